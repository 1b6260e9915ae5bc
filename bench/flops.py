"""FLOP counts of the MAE model, from its architecture (matmuls and convolutions only: the
element-wise work is a few percent of it). A multiply-add counts 2 FLOPs; a training step
counts 3x its forward pass (the backward pass computes gradients of activations and weights).

    python bench/flops.py --preset mae_vit_base_patch16
"""

import argparse

from bench_common import preset_architecture


def transformer_flops(tokens, dim, mlp_dim, depth):
    """Forward FLOPs of `depth` pre-norm blocks on `tokens` tokens of width `dim`, per image."""
    projections = 2 * tokens * dim * (3 * dim + dim + 2 * mlp_dim)  # qkv, proj, fc1, fc2
    attention = 2 * 2 * tokens * tokens * dim  # q k^T and weights @ v
    return depth * (projections + attention)


def encoder_tokens(architecture, mode="train"):
    """Tokens the encoder runs on per image, the cls token included: the visible patches in
    pretraining (`mask_ratio`, 0.75 unless set), every patch in `infer` or with
    `mask_token_in_encoder`."""
    height, width = architecture["image_size"]
    patches = (height // architecture["patch_size"]) * (width // architecture["patch_size"])
    if mode == "infer" or architecture.get("mask_token_in_encoder"):
        return 1 + patches
    return 1 + int(patches * (1 - architecture.get("mask_ratio", 0.75)))  # as num_visible


def forward_flops(architecture, mode="train"):
    """Forward FLOPs per image: the pretraining model (`train`) or the unmasked encoder (`infer`).
    The pretraining model follows the architecture's MAE fields: `mask_ratio` and
    `mask_token_in_encoder` (`encoder_tokens`), `decoder_num_layers` (0: one linear layer from
    the encoder's width to pixels)."""
    height, width = architecture["image_size"]
    patch, channels = architecture["patch_size"], architecture["num_channels"]
    patches = (height // patch) * (width // patch)
    pixels_per_patch = patch * patch * channels
    enc_dim = architecture["hidden_dim"]
    embed = 2 * patches * pixels_per_patch * enc_dim  # every patch is embedded, then gathered
    encoded = encoder_tokens(architecture, mode)
    encoder = transformer_flops(
        encoded, enc_dim, architecture["mlp_dim"], architecture["num_layers"]
    )
    if mode == "infer":
        return embed + encoder
    dec_depth = architecture["decoder_num_layers"]
    dec_dim = architecture["decoder_hidden_dim"] if dec_depth else enc_dim
    decoder_embed = 2 * encoded * enc_dim * dec_dim if dec_depth else 0
    decoder = transformer_flops(1 + patches, dec_dim, architecture["decoder_mlp_dim"], dec_depth)
    prediction = 2 * (1 + patches) * dec_dim * pixels_per_patch
    return embed + encoder + decoder_embed + decoder + prediction


def step_flops(preset, batch, mode="train", overrides=None):
    """FLOPs of one training step (3x forward) or one encoder pass over a batch."""
    per_image = forward_flops(preset_architecture(preset, **(overrides or {})), mode)
    return batch * per_image * (3 if mode == "train" else 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    args = parser.parse_args()
    architecture = preset_architecture(args.preset, mask_ratio=args.mask_ratio)
    gflop = {mode: forward_flops(architecture, mode) * factor / 1e9
             for mode, factor in (("train", 3), ("infer", 1))}
    for mode, value in gflop.items():
        print(f"{mode}: {value:.3f} GFLOP per image")
    print(f"train_gflop_per_image={gflop['train']:.3f} infer_gflop_per_image={gflop['infer']:.3f}")


if __name__ == "__main__":
    main()
