"""CIFAR-10 from a class-per-folder JPEG tree (or TFDS) with the ViT-Tiny/4 preset.

    python train.py --config configs/cifar10.py --workdir runs/cifar10 \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
    python train.py --config configs/cifar10.py --config.data.source=tfds \
        --config.data.train=train --config.data.eval=test
"""

from keras_mae.training.config import default_config, use_cifar10


def get_config():
    config = use_cifar10(default_config())
    config.model.preset = "mae_vit_tiny_patch4_32"
    config.batch_size = 512
    config.epochs = 400
    config.optim.base_lr = 1.5e-4
    config.optim.warmup_epochs = 20
    config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    return config
