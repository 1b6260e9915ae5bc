"""Stage 1 of the CIFAR-10 proof: MAE pretraining of the micro ViT on 45,000 training images,
with k-NN every 5 epochs on the other 5,000 (held out for choosing settings; the test images are
used once, by the later stages). Run through `python experiments/run.py cifar10`."""

from keras_mae.training.config import default_config, use_cifar10


def get_config():
    config = use_cifar10(default_config())
    config.model.preset = "mae_vit_micro_patch4_32"
    config.batch_size = 256
    config.epochs = 50
    config.optim.base_lr = 1.5e-3  # lr 1.5e-3 at batch 256
    config.optim.warmup_epochs = 5
    config.knn.every_epochs = 5
    config.knn.bank_size = 10_000
    config.keep_checkpoints = 2
    config.figure_every_epochs = 5
    config.export_saved_model = False
    return config
