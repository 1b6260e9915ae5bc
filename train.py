"""Pretrain a Masked Autoencoder, or evaluate one by fine-tuning or linear probing.

    python train.py --config configs/quickstart.py --workdir runs/quickstart
    python train.py --config configs/cifar10.py --config.batch_size=256 --config.epochs=100
    python train.py --config configs/finetune_cifar10.py --config.init_checkpoint=runs/cifar10/model.keras

The config's `task` (pretrain | finetune | linprobe) says which. Writes to --workdir:
config.json, TensorBoard logs, a checkpoint per epoch, model.keras and a SavedModel (and, when
pretraining, reconstructions.png). Re-running the same command resumes an interrupted run.
"""

from absl import app, flags
from ml_collections import config_flags

from keras_mae import finetune, pretrain

_CONFIG = config_flags.DEFINE_config_file("config", "configs/quickstart.py", "Run config file.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/quickstart", "Where the run writes everything.")
_TASKS = {"pretrain": pretrain.run, "finetune": finetune.run, "linprobe": finetune.run}


def main(argv):
    del argv
    task = _CONFIG.value.task
    if task not in _TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(_TASKS)}.")
    _TASKS[task](_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
