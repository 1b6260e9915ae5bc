"""CIFAR-10 from a class-per-folder JPEG tree (or TFDS) with the ViT-Tiny/4 preset, for every
task: `--config configs/cifar10.py:<task>` (pretrain when no task is given).

A starting point at the paper's recipe scaled to CIFAR (400 epochs), not the recipe behind the
README's results: those are `experiments/cifar10/` (the micro preset, 50 epochs, settings chosen
on held-out images). Its linear probe keeps the paper's cls token at base lr 0.1, meant for
batch 16384; at small batches a higher base lr probes far better (results/cifar10_probe_lr.json).

    python train.py --config configs/cifar10.py --workdir runs/cifar10 \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
    python train.py --config configs/cifar10.py --config.data.source=tfds \
        --config.data.train=train --config.data.eval=test
    python train.py --config configs/cifar10.py:knn --workdir runs/c10_knn \
        --config.init_checkpoint=runs/cifar10/model.keras
    python train.py --config configs/cifar10.py:finetune --workdir runs/c10_ft \
        --config.init_checkpoint=runs/cifar10/model.keras
    python train.py --config configs/cifar10.py:evaluate --workdir runs/c10_eval \
        --config.init_checkpoint=runs/c10_ft/model.keras
"""

from keras_mae.training.config import use_cifar10
from keras_mae.training.task_config import task_defaults


def get_config(task="pretrain"):
    config = use_cifar10(task_defaults(task))
    config.model.preset = "mae_vit_tiny_patch4_32"
    if "augment" in config:
        config.augment.crop_fraction = 1.0  # 32x32 images: evaluate them whole.
    if task == "pretrain":
        config.batch_size = 512
        config.epochs = 400
        config.optim.base_lr = 1.5e-4
        config.optim.warmup_epochs = 20
        config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    if task == "finetune":  # The paper's recipe (appendix A.2) at CIFAR scale.
        config.batch_size = 512
        config.epochs = 100
        config.optim.base_lr = 1e-3
        config.optim.layer_decay = 0.75
    if task == "linprobe":  # A BatchNorm + linear head on the frozen cls token (appendix A.3).
        config.batch_size = 1024
        config.epochs = 90
    return config
