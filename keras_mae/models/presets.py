"""Named architectures, as data: the paper's ViT-B/L/H (224x224 RGB) and small models for small
images. Each preset is the backbone's and the MAE decoder's constructor arguments, with the
model's trainable parameter count (pinned by a test). Plain data: benches read it without Keras."""

import difflib

from keras_mae.errors import InputError

_PAPER_DECODER = dict(
    decoder_hidden_dim=512, decoder_num_layers=8, decoder_num_heads=16, decoder_mlp_dim=2048
)

PRESETS = {
    "mae_vit_base_patch16": dict(
        backbone=dict(image_size=224, patch_size=16, num_channels=3,
                      hidden_dim=768, num_layers=12, num_heads=12, mlp_dim=3072),
        decoder=_PAPER_DECODER,
        num_parameters=111_655_680,
        description="ViT-B/16 and the paper's decoder, 224x224 RGB",
    ),
    "mae_vit_large_patch16": dict(
        backbone=dict(image_size=224, patch_size=16, num_channels=3,
                      hidden_dim=1024, num_layers=24, num_heads=16, mlp_dim=4096),
        decoder=_PAPER_DECODER,
        num_parameters=329_239_296,
        description="ViT-L/16 and the paper's decoder, 224x224 RGB",
    ),
    "mae_vit_huge_patch14": dict(
        backbone=dict(image_size=224, patch_size=14, num_channels=3,
                      hidden_dim=1280, num_layers=32, num_heads=16, mlp_dim=5120),
        decoder=_PAPER_DECODER,
        num_parameters=656_613_964,
        description="ViT-H/14 and the paper's decoder, 224x224 RGB",
    ),
    "mae_vit_tiny_patch4_32": dict(
        backbone=dict(image_size=32, patch_size=4, num_channels=3,
                      hidden_dim=192, num_layers=12, num_heads=3, mlp_dim=768),
        decoder=dict(decoder_hidden_dim=128, decoder_num_layers=4, decoder_num_heads=4,
                     decoder_mlp_dim=512),
        num_parameters=6_172_720,
        description="CIFAR-10 sized: 32x32 RGB, 64 patches of 4x4",
    ),
    "mae_vit_micro_patch4_32": dict(
        backbone=dict(image_size=32, patch_size=4, num_channels=3,
                      hidden_dim=128, num_layers=6, num_heads=4, mlp_dim=512),
        decoder=dict(decoder_hidden_dim=64, decoder_num_layers=2, decoder_num_heads=4,
                     decoder_mlp_dim=256),
        num_parameters=1_307_824,
        description="a few minutes on a laptop CPU: 32x32 RGB, a shallow encoder",
    ),
    "mae_vit_micro_patch4_28_grey": dict(
        backbone=dict(image_size=28, patch_size=4, num_channels=1,
                      hidden_dim=128, num_layers=6, num_heads=4, mlp_dim=512),
        decoder=dict(decoder_hidden_dim=64, decoder_num_layers=2, decoder_num_heads=4,
                     decoder_mlp_dim=256),
        num_parameters=1_301_648,
        description="the bundled Fashion-MNIST sample: 28x28 grey, 49 patches of 4x4",
    ),
}


def list_presets():
    """The preset names, sorted: what `from_preset` and `keras_mae.load` accept.

    Returns:
        A list of str, e.g. "mae_vit_base_patch16" (the paper's ViT-B/16 MAE).
    """
    return sorted(PRESETS)


def get_preset(name):
    """The preset `name`; an unknown name is an `InputError` naming the closest one."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"Unknown preset {name!r}.{hint} Valid presets: {', '.join(list_presets())}."
        )
    return PRESETS[name]


def preset_arguments(name, **overrides):
    """(backbone arguments, MAE arguments) of preset `name`, with `overrides` applied."""
    preset = get_preset(name)
    return split_arguments({**preset["backbone"], **preset["decoder"], **overrides})


# `ViTBackbone`'s constructor arguments (a test pins them to its signature); the rest of a flat
# argument list belongs to the task.
BACKBONE_ARGUMENTS = (
    "image_size", "patch_size", "num_channels", "hidden_dim", "num_layers", "num_heads",
    "mlp_dim", "layer_norm_epsilon", "drop_path_rate", "trainable_pos_embed", "remat",
)


def split_arguments(arguments):
    """Flat constructor arguments -> (the backbone's, the task's)."""
    backbone = {k: v for k, v in arguments.items() if k in BACKBONE_ARGUMENTS}
    task = {k: v for k, v in arguments.items() if k not in BACKBONE_ARGUMENTS}
    return backbone, task
