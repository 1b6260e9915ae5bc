"""Linear probing of a CIFAR-10 MAE (appendix A.3): a BatchNorm + linear head on the frozen cls token.

    python train.py --config configs/linprobe_cifar10.py --workdir runs/cifar10_linprobe \
        --config.init_checkpoint=runs/cifar10/model.keras \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
"""

from keras_mae.training.config import linprobe_config, use_cifar10


def get_config():
    config = use_cifar10(linprobe_config())
    config.model.preset = "mae_vit_tiny_patch4_32"
    config.augment.crop_fraction = 1.0
    config.batch_size = 1024
    config.epochs = 90
    return config
