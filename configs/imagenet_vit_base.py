"""The paper's ImageNet-1k recipe for ViT-Base/16: 800 epochs, batch 4096, norm-pix targets.

    python train.py --config configs/imagenet_vit_base.py --workdir gs://bucket/mae_vit_b \
        --config.strategy=tpu --config.tpu=my-tpu
Swap the preset for mae_vit_large_patch16 or mae_vit_huge_patch14 to get ViT-L or ViT-H.
"""

from keras_mae.config import default_config


def get_config():
    config = default_config()
    config.model.preset = "mae_vit_base_patch16"
    config.data.source = "tfds"
    config.data.tfds_name = "imagenet2012"
    config.data.tfds_download = False  # ImageNet must be prepared by hand (manual download).
    config.data.train = "train"
    config.data.eval = "validation"
    config.data.image_size = (224, 224)
    config.data.num_channels = 3
    config.data.mean = (0.485, 0.456, 0.406)
    config.data.std = (0.229, 0.224, 0.225)
    config.keep_checkpoints = 5  # Hundreds of epochs: keep the newest per-epoch checkpoints.
    return config
