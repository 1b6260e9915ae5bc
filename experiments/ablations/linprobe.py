"""Linear probe of one ablation variant: the CIFAR-10 proof's linear-probe recipe, 5 epochs."""

from experiments.cifar10.linprobe import get_config as proof_config


def get_config():
    config = proof_config()
    config.epochs = 5
    config.optim.warmup_epochs = 1
    return config
