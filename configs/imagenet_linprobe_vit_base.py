"""The paper's ImageNet-1k linear probing of ViT-Base/16 (appendix A.3: LARS, lr 0.1 x batch
/ 256, batch 16384, 90 epochs, cls token, BatchNorm before the linear head).

    python train.py --config configs/imagenet_linprobe_vit_base.py --workdir runs/vit_b_lin \
        --config.init_checkpoint=runs/vit_b/model.keras      # or mae_pretrain_vit_base.pth
"""

from keras_mae.training.config import linprobe_config, use_imagenet


def get_config():
    config = use_imagenet(linprobe_config())
    config.model.preset = "mae_vit_base_patch16"
    return config
