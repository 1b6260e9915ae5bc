"""Pretrain a Masked Autoencoder.

    python train.py --config configs/quickstart.py --workdir runs/quickstart
    python train.py --config configs/cifar10.py --config.batch_size=256 --config.epochs=100

Writes to --workdir: config.json, TensorBoard logs, a checkpoint per epoch, model.keras and
reconstructions.png. Re-running the same command resumes an interrupted run.
"""

from absl import app, flags
from ml_collections import config_flags

from keras_mae import pretrain

_CONFIG = config_flags.DEFINE_config_file("config", "configs/quickstart.py", "Run config file.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/quickstart", "Where the run writes everything.")


def main(argv):
    del argv
    pretrain.run(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
