"""Your own images, for every task: a folder of unlabelled images to pretrain on, and images in
class folders for the k-NN monitor, fine-tuning, probing and evaluation. docs/own-data.md walks
through it from a folder of images to an exported classifier.

    python train.py --config configs/own_images.py --workdir runs/mine \
        --config.data.train=my_images --config.data.eval=my_images_val
    python train.py --config configs/own_images.py:finetune --workdir runs/mine_finetuned \
        --config.init_checkpoint=runs/mine/model.keras \
        --config.data.train=my_labels/train --config.data.eval=my_labels/val
"""

from keras_mae.training.task_config import task_defaults


def get_config(task="pretrain"):
    config = task_defaults(task)
    config.data.source = "folder"
    if task == "pretrain":  # Unlabelled images; the other tasks read the class folders.
        config.data.train, config.data.eval = "my_images", "my_images_val"
    else:
        config.data.train, config.data.eval = "my_labels/train", "my_labels/val"
    config.data.image_size = (64, 64)
    config.data.num_channels = 3
    config.data.mean = (0.485, 0.456, 0.406)  # ImageNet's: a fair start for photographs.
    config.data.std = (0.229, 0.224, 0.225)
    # The CIFAR-10 proof's ViT (6 blocks of width 128), at any image size its 4-pixel patches
    # divide; a CPU trains it in hours on tens of thousands of images.
    config.model.preset = "mae_vit_micro_patch4_32"
    config.batch_size = 256
    if "augment" in config:
        config.augment.crop_fraction = 1.0  # Held-out images whole (small images: no margin).
    # The CIFAR-10 proof's recipes (experiments/cifar10/, results/cifar10.json).
    if task == "pretrain":
        config.epochs = 50
        config.optim.base_lr = 1.5e-3  # Ten times the paper's: few epochs of few images.
        config.optim.warmup_epochs = 5
        config.keep_checkpoints = 2
    if task == "finetune":
        config.epochs = 15
        config.optim.base_lr = 1e-3
        config.optim.layer_decay = 0.75
        config.optim.warmup_epochs = 2
    if task == "linprobe":  # Chosen on held-out images: the mean patch token at base lr 30.
        config.epochs = 20
        config.model.pooling = "avg"
        config.optim.base_lr = 30.0
        config.optim.warmup_epochs = 2
    return config
