"""Pretraining of one ablation variant: the CIFAR-10 proof's recipe (micro ViT, batch 256, lr
1.5e-3, norm-pix targets, mask ratio 0.75) for 10 epochs on 45,000 training images, k-NN on the
other 5,000 every 5 epochs; each variant changes model fields (experiments/ablations/stages.py)."""

from experiments.cifar10.pretrain import get_config as proof_config


def get_config():
    config = proof_config()
    config.epochs = 10
    config.optim.warmup_epochs = 2
    config.num_figure_images = 0
    return config
