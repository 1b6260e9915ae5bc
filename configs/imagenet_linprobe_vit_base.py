"""The paper's ImageNet-1k linear probing of ViT-Base/16 (appendix A.3: LARS, lr 0.1 x batch
/ 256, batch 16384, 90 epochs, cls token, BatchNorm before the linear head):
`configs/imagenet_vit_base.py:linprobe`.

    python train.py --config configs/imagenet_linprobe_vit_base.py --workdir runs/vit_b_lin \
        --config.init_checkpoint=runs/vit_b/model.keras      # or mae_pretrain_vit_base.pth
"""

from keras_mae.training.task_config import config_beside


def get_config(task="linprobe"):
    return config_beside(__file__, "imagenet_vit_base.py", task)
