"""Quickstart: a small MAE on the bundled Fashion-MNIST sample, ~3 minutes on a 2-core CPU.

    python train.py --config configs/quickstart.py --workdir runs/quickstart
"""

from keras_mae.training.config import default_config


def get_config():
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size = 128
    config.epochs = 10
    config.optim.base_lr = 1.5e-3  # A short run on small images wants a larger step.
    config.optim.warmup_epochs = 1
    return config
