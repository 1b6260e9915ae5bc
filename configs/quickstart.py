"""Quickstart: a small MAE on the bundled Fashion-MNIST sample, ~3 minutes on a 2-core CPU; any
task with `--config configs/quickstart.py:<task>`.

    python train.py --config configs/quickstart.py --workdir runs/quickstart
    python train.py --config configs/quickstart.py:knn --workdir runs/quickstart_knn \
        --config.init_checkpoint=runs/quickstart/model.keras
"""

from keras_mae.training.task_config import task_defaults


def get_config(task="pretrain"):
    config = task_defaults(task)
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size = 128
    if task in ("pretrain", "finetune", "linprobe"):
        config.epochs = 10
        config.optim.warmup_epochs = 1
    if task == "pretrain":
        config.optim.base_lr = 1.5e-3  # A short run on small images wants a larger step.
    return config
