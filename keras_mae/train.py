"""Pretrain a Masked Autoencoder, or evaluate one by fine-tuning or linear probing: the
command line behind `python train.py` (from a clone) and `keras-mae-train` (once installed).

    python train.py --config configs/quickstart.py --workdir runs/quickstart
    python train.py --config configs/cifar10.py --config.batch_size=256 --config.epochs=100
    python train.py --config configs/finetune_cifar10.py \
        --config.init_checkpoint=runs/cifar10/model.keras
    python train.py --config configs/cifar10.py:knn \
        --config.init_checkpoint=runs/cifar10/model.keras

The config's `task` (pretrain | finetune | linprobe | knn | evaluate) says which: the text after
`:` asks a config file for a task, and `--config.task=knn` or `evaluate` switches any config to
them (keeping the fields they use). Writes to --workdir (by default runs/<config file name>,
and -<task> for a task asked of it: runs/cifar10, runs/cifar10-knn):
config.json, TensorBoard logs, a checkpoint per epoch, model.keras and a SavedModel (and, when
pretraining, reconstructions.png). Re-running the same command resumes an interrupted run
(with a config changed in what it trains only given --allow_config_change). A
mistake in the command, the config or the data ends in one line, `error: ...`, and exit status 2.
Config files are paths: `keras-mae-train --config path/to/configs/quickstart.py`.
"""

import inspect
import pathlib
import re
import runpy
import sys

from absl import flags
from ml_collections import config_flags

from keras_mae import cli
from keras_mae.errors import InputError, Interrupted, exit_with, full_disk
from keras_mae.training import TASKS, run_task
from keras_mae.training.checks import check_overrides, field_paths
from keras_mae.training.task_config import for_task, task_defaults

_DEFAULT_CONFIG = "configs/quickstart.py"


def _explain_bad_override(argv):
    """Exit in one line naming the `--config.<field>` override that the config file lacks (and,
    for another task's field, how to ask the file for that task)."""
    try:
        check_overrides(argv[1:])  # of any task
        config_file, *task = _config_file(argv).split(":", 1)
        if pathlib.Path(config_file).is_file():
            config = runpy.run_path(config_file)["get_config"](*task)
            fields = field_paths(config)
            for argument in argv[1:]:
                field = re.match(r"--config\.([\w.]+)", argument)
                if field and field.group(1) not in fields:
                    raise InputError(_another_tasks_field(config_file, config.task,
                                                          field.group(1), argv))
    except InputError as error:
        exit_with(error)


def _another_tasks_field(config_file, file_task, field, argv):
    """The message for an override of a field that the file's task lacks and another has."""
    asked = [argument.split("=", 1)[1] for argument in argv if argument.startswith(
        "--config.task=")]
    tasks = asked or [task for task in TASKS if field in field_paths(task_defaults(task))]
    return (f"{config_file} gives a {file_task} config, which has no field {field!r} (a "
            f"field of {' and '.join(tasks)}): ask the file for the task, e.g. --config "
            f"{config_file}:{tasks[0]}.")


def _check_task_argument(argv):
    """Exit in one line when `--config <file>:<task>` names an unknown task, or a file whose
    get_config takes no task."""
    config_file, *task = _config_file(argv).split(":", 1)
    if not task:
        return
    try:
        task_defaults(task[0])
        if pathlib.Path(config_file).is_file() and not inspect.signature(
                runpy.run_path(config_file)["get_config"]).parameters:
            raise InputError(f"{config_file} takes no task (its get_config() has no "
                             f"argument): drop ':{task[0]}', or pass --config.task=knn or "
                             "evaluate, which any config can switch to.")
    except InputError as error:
        exit_with(error)


def _config_file(argv):
    """The config file `argv` names (`--config=F` or `--config F`), read before absl can."""
    for index, argument in enumerate(argv):
        if argument.startswith("--config="):
            return argument.split("=", 1)[1]
        if argument == "--config" and index + 1 < len(argv):
            return argv[index + 1]
    return _DEFAULT_CONFIG


try:  # Without --config, absl applies the overrides to the default file right here.
    _CONFIG = config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Run config file.")
except (KeyError, AttributeError):
    _explain_bad_override(sys.argv)
    raise
_WORKDIR = flags.DEFINE_string("workdir", None, "Where the run writes everything; default: "
                                "runs/<config file name>, runs/<name>-<task> for a task asked "
                                "of it (file.py:knn or --config.task=knn).")

_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    "allow_config_change", False, "Resume the run in --workdir even though this config "
    "differs from its config.json in what it trains (epochs, lr, batch, model, data).")


def parse_flags(argv):
    """absl's flag parsing, with config overrides of unknown fields, an unknown task and a
    missing config file refused in one line."""
    _check_task_argument(argv)
    try:
        remaining = flags.FLAGS(argv)
    except (KeyError, AttributeError):  # ml_collections: an override names no field
        _explain_bad_override(argv)
        raise
    config_file = config_flags.get_config_filename(flags.FLAGS["config"]).split(":")[0]
    if not pathlib.Path(config_file).is_file():
        exit_with(InputError(f"Config file {config_file!r} not found. Pass --config "
                        "configs/<name>.py (see configs/)."))
    return remaining


def default_workdir(config_argument, overrides):
    """runs/<config file name>, or runs/<name>-<task> when a task is asked of the file
    (`file.py:knn`, or `--config.task` among the config's `overrides`): each config and task
    gets its own, so that a run never resumes, or is refused by, another's."""
    config_file, _, task = config_argument.partition(":")
    task = overrides.get("task", task)
    name = pathlib.Path(config_file).stem
    return f"runs/{name}-{task}" if task else f"runs/{name}"


def main(argv):
    del argv
    config = _CONFIG.value
    if config.task not in TASKS:
        raise InputError(f"Unknown task {config.task!r}; use one of {', '.join(TASKS)} "
                         "(--config.task).")
    config_argument = config_flags.get_config_filename(flags.FLAGS["config"])
    config = for_task(config, config_argument)
    workdir = _WORKDIR.value or default_workdir(
        config_argument, config_flags.get_override_values(flags.FLAGS["config"]))
    print(f"Work directory: {workdir}" + ("" if _WORKDIR.value else " (--workdir to choose)"),
          flush=True)
    try:
        run_task(config, workdir, allow_config_change=_ALLOW_CONFIG_CHANGE.value)
    except OSError as error:
        stopped = full_disk(error, workdir)
        if stopped is None:
            raise
        raise stopped from None
    except KeyboardInterrupt:
        raise Interrupted("Stopped by Ctrl-C; the last backup in the work directory is kept. "
                          "Resume with the same command.") from None


def run():
    """The command line: flags from `sys.argv`, then `main`. `--help` lists this module's flags
    whichever script runs it (absl lists the flags of `sys.argv[0]`: train.py, keras-mae-train)."""
    for flag in flags.FLAGS.get_key_flags_for_module(__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    script = sys.modules["__main__"]
    script.__doc__ = script.__doc__ or __doc__  # keras-mae-train's generated script has none
    cli.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
