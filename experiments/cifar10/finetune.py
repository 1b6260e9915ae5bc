"""Fine-tuning stages of the CIFAR-10 proof: the paper's recipe (appendix A.2: AdamW with
layer-wise lr decay, RandAugment, random erasing, mixup/cutmix, label smoothing, drop path) with
fewer epochs (15, so that both stages fit one 3-hour session here), on the 50,000 training
images, tested on the 10,000 test images; from the pretrained encoder (`init_checkpoint`) or
from scratch, with the same epochs, recipe and seed."""

from keras_mae.training.config import finetune_config, use_cifar10


def get_config():
    config = use_cifar10(finetune_config())
    config.model.preset = "mae_vit_micro_patch4_32"
    config.augment.crop_fraction = 1.0
    config.batch_size = 256
    config.epochs = 15
    config.optim.base_lr = 1e-3
    config.optim.layer_decay = 0.75
    config.optim.warmup_epochs = 2
    config.keep_checkpoints = 2
    config.export_saved_model = False
    return config
