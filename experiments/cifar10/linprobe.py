"""Linear-probe stages of the CIFAR-10 proof: the paper's recipe (appendix A.3: frozen encoder,
cls token, BatchNorm + linear head, LARS) with fewer epochs, on the 50,000 training images, tested
on the 10,000 test images; pretrained (`init_checkpoint`) or random encoder."""

from keras_mae.training.config import linprobe_config, use_cifar10


def get_config():
    config = use_cifar10(linprobe_config())
    config.model.preset = "mae_vit_micro_patch4_32"
    config.augment.crop_fraction = 1.0  # 32x32 images: evaluate them whole
    config.batch_size = 256
    config.epochs = 20
    config.optim.warmup_epochs = 2
    # Chosen on the held-out train[45000:] among 0.1 (the paper's, for batch 16384), 1 and 10:
    # 22.6%, 33.4%, 44.3% after 3 epochs (results/cifar10_probe_lr.json).
    config.optim.base_lr = 10.0
    config.keep_checkpoints = 2
    config.export_saved_model = False
    return config
