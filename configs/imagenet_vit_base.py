"""The paper's ImageNet-1k recipe for ViT-Base/16: 800 epochs, batch 4096, norm-pix targets; for
every task: `--config configs/imagenet_vit_base.py:<task>` (pretrain when no task is given).

    python train.py --config configs/imagenet_vit_base.py --workdir runs/mae_vit_b \
        --config.strategy=tpu --config.tpu=my-tpu
    python train.py --config configs/imagenet_vit_base.py:knn --workdir runs/vit_b_knn \
        --config.init_checkpoint=mae_pretrain_vit_base.pth
    python train.py --config configs/imagenet_vit_base.py:evaluate --workdir runs/vit_b_eval \
        --config.init_checkpoint=mae_finetuned_vit_base.pth
Swap the preset for mae_vit_large_patch16 or mae_vit_huge_patch14 to get ViT-L or ViT-H.
Fine-tuning and linear probing: `:finetune` and `:linprobe` (imagenet_finetune_vit_base.py and
imagenet_linprobe_vit_base.py).
"""

from keras_mae.training.config import use_imagenet
from keras_mae.training.task_config import task_defaults


def get_config(task="pretrain"):
    config = use_imagenet(task_defaults(task))
    config.model.preset = "mae_vit_base_patch16"
    if task == "pretrain":
        config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    return config
