"""Fine-tune a CIFAR-10 MAE end to end, with the paper's recipe (appendix A.2) at CIFAR scale.

    python train.py --config configs/finetune_cifar10.py --workdir runs/cifar10_finetune \
        --config.init_checkpoint=runs/cifar10/model.keras \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
"""

from keras_mae.training.config import finetune_config, use_cifar10


def get_config():
    config = use_cifar10(finetune_config())
    config.model.preset = "mae_vit_tiny_patch4_32"
    config.augment.crop_fraction = 1.0  # 32x32 images: evaluate them whole.
    config.batch_size = 512
    config.epochs = 100
    config.optim.base_lr = 1e-3
    config.optim.layer_decay = 0.75
    return config
