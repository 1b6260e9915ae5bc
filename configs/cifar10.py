"""CIFAR-10 from a class-per-folder JPEG tree (or TFDS) with the ViT-Tiny/4 preset.

    python train.py --config configs/cifar10.py --workdir runs/cifar10 \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
    python train.py --config configs/cifar10.py --config.data.source=tfds \
        --config.data.train=train --config.data.eval=test
"""

from keras_mae.config import default_config


def get_config():
    config = default_config()
    config.model.preset = "mae_vit_tiny_patch4_32"
    config.data.source = "folder"
    config.data.tfds_name = "cifar10"
    config.data.train = "cifar10/train"
    config.data.eval = "cifar10/test"
    config.data.image_size = (32, 32)
    config.data.num_channels = 3
    config.data.mean = (0.4914, 0.4822, 0.4465)
    config.data.std = (0.2470, 0.2435, 0.2616)
    config.batch_size = 512
    config.epochs = 400
    config.optim.base_lr = 1.5e-4
    config.optim.warmup_epochs = 20
    config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    return config
