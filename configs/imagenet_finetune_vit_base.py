"""The paper's ImageNet-1k fine-tuning of ViT-Base/16 (appendix A.2: 100 epochs, batch 1024,
lr 5e-4 x batch / 256, layer decay 0.65, drop path 0.1, RandAugment, mixup, cutmix, erasing).

    python train.py --config configs/imagenet_finetune_vit_base.py --workdir runs/vit_b_ft \
        --config.init_checkpoint=runs/vit_b/model.keras      # or mae_pretrain_vit_base.pth
For ViT-L/H: --config.model.preset=mae_vit_large_patch16 --config.epochs=50
    --config.optim.base_lr=1e-3 --config.optim.layer_decay=0.75 --config.model.drop_path_rate=0.2 (ViT-H: 0.3)
This is `configs/imagenet_vit_base.py:finetune`; linear probing:
configs/imagenet_linprobe_vit_base.py.
"""

from keras_mae.training.task_config import config_beside


def get_config(task="finetune"):
    return config_beside(__file__, "imagenet_vit_base.py", task)
