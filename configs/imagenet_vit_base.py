"""The paper's ImageNet-1k recipe for ViT-Base/16: 800 epochs, batch 4096, norm-pix targets.

    python train.py --config configs/imagenet_vit_base.py --workdir runs/mae_vit_b \
        --config.strategy=tpu --config.tpu=my-tpu
Swap the preset for mae_vit_large_patch16 or mae_vit_huge_patch14 to get ViT-L or ViT-H.
"""

from keras_mae.training.config import default_config, use_imagenet


def get_config():
    config = use_imagenet(default_config())
    config.model.preset = "mae_vit_base_patch16"
    config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    return config
