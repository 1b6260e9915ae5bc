"""Named architectures: the paper's ViT-B/L/H (224x224 RGB) and small models for small images."""

import difflib

from keras_mae.errors import InputError

_PAPER_DECODER = dict(decoder_dim=512, decoder_depth=8, decoder_heads=16, decoder_mlp_dim=2048)

PRESETS = {
    "mae_vit_base_patch16": dict(
        image_size=224, patch_size=16, num_channels=3,
        encoder_dim=768, encoder_depth=12, encoder_heads=12, encoder_mlp_dim=3072,
        **_PAPER_DECODER,
    ),
    "mae_vit_large_patch16": dict(
        image_size=224, patch_size=16, num_channels=3,
        encoder_dim=1024, encoder_depth=24, encoder_heads=16, encoder_mlp_dim=4096,
        **_PAPER_DECODER,
    ),
    "mae_vit_huge_patch14": dict(
        image_size=224, patch_size=14, num_channels=3,
        encoder_dim=1280, encoder_depth=32, encoder_heads=16, encoder_mlp_dim=5120,
        **_PAPER_DECODER,
    ),
    # CIFAR-10 sized: 32x32 RGB, 64 patches of 4x4.
    "mae_vit_tiny_patch4_32": dict(
        image_size=32, patch_size=4, num_channels=3,
        encoder_dim=192, encoder_depth=12, encoder_heads=3, encoder_mlp_dim=768,
        decoder_dim=128, decoder_depth=4, decoder_heads=4, decoder_mlp_dim=512,
    ),
    # A few minutes on a laptop CPU: 32x32 RGB with a shallow encoder.
    "mae_vit_micro_patch4_32": dict(
        image_size=32, patch_size=4, num_channels=3,
        encoder_dim=128, encoder_depth=6, encoder_heads=4, encoder_mlp_dim=512,
        decoder_dim=64, decoder_depth=2, decoder_heads=4, decoder_mlp_dim=256,
    ),
    # The bundled Fashion-MNIST sample: 28x28 grey, 49 patches of 4x4.
    "mae_vit_micro_patch4_28_grey": dict(
        image_size=28, patch_size=4, num_channels=1,
        encoder_dim=128, encoder_depth=6, encoder_heads=4, encoder_mlp_dim=512,
        decoder_dim=64, decoder_depth=2, decoder_heads=4, decoder_mlp_dim=256,
    ),
}


def list_presets():
    """Names accepted by `MaskedAutoencoder.from_preset`."""
    return sorted(PRESETS)


def preset_config(name, **overrides):
    """The constructor arguments of preset `name`, with `overrides` applied."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"Unknown preset {name!r}.{hint} Valid presets: {', '.join(list_presets())}."
        )
    return {**PRESETS[name], **overrides}
