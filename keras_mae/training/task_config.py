"""A run config for any task: a config file asked for a task (`--config configs/cifar10.py:knn`
calls its `get_config("knn")`), or a config of another task switched by `--config.task=knn` or
`evaluate`, which train nothing and so keep only the fields they use."""

import functools
import pathlib
import runpy

import ml_collections

from keras_mae.errors import InputError
from keras_mae.training.checks import check_fields, field_paths
from keras_mae.training.config import TASK_CONFIGS

EVALUATIONS = ("knn", "evaluate")  # Tasks without a training recipe: any config can switch to them.


def task_defaults(task):
    """The default config of `task` (what `configs/*.py:<task>` starts from); an unknown task is
    refused in one line."""
    if task not in TASK_CONFIGS:
        raise InputError(f"Unknown task {task!r}; use one of {', '.join(TASK_CONFIGS)}, e.g. "
                         f"--config configs/cifar10.py:{list(TASK_CONFIGS)[-1]}.")
    return TASK_CONFIGS[task]()


def for_task(config, source):
    """`config` as a config of the task its `task` field names: unchanged when it is one; for
    k-NN and evaluation, a config of another task (`source`, e.g. the file a model was trained
    with) reduced to the task's fields, their values kept, the other fields dropped."""
    target = task_defaults(config.task)
    paths = field_paths(config)
    known = set(field_paths(target))
    if all(path in known for path in paths):
        return config
    source_task = min(TASK_CONFIGS, key=lambda task: len(set(paths) - set(field_paths(
        TASK_CONFIGS[task]()))))
    check_fields(config, TASK_CONFIGS[source_task]())  # a misspelt field stays an error
    if config.task not in EVALUATIONS:
        raise InputError(
            f"{source} is a {source_task} config, and task {config.task!r} trains with its own "
            f"recipe: ask the config file for it (--config {source.split(':')[0]}:{config.task}); "
            f"--config.task switches a config only to {' or '.join(EVALUATIONS)}."
        )
    for path in known & set(paths):
        *parents, name = path.split(".")
        value = functools.reduce(getattr, path.split("."), config)
        if not isinstance(value, ml_collections.ConfigDict):
            setattr(functools.reduce(getattr, parents, target), name, value)
    return target


def config_beside(config_file, name, task):
    """What the config file `name`, in the folder of `config_file`, gives for `task`: a config
    file that is another's task by another name (`finetune_cifar10.py` is `cifar10.py:finetune`)."""
    config = runpy.run_path(str(pathlib.Path(config_file).with_name(name)))
    return config["get_config"](task)
