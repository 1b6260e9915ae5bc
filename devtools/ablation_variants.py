"""The ablations' model variants as plain data: experiments/ablations pretrains each,
bench/ablation_cost.py times each beside MAE's."""

BASE = {"mask_ratio": 0.75, "decoder_num_layers": 2, "mask_token_in_encoder": False,
        "norm_pix_loss": True, "loss_on": "masked"}  # the micro preset's MAE
# (name, the groups it belongs to, the model fields it changes from BASE)
VARIANTS = (
    ("mae", ("mask_ratio", "decoder_depth", "mask_token_in_encoder", "target"), {}),
    ("mask_ratio_0.15", ("mask_ratio",), {"mask_ratio": 0.15}),
    ("mask_ratio_0.25", ("mask_ratio",), {"mask_ratio": 0.25}),
    ("mask_ratio_0.5", ("mask_ratio",), {"mask_ratio": 0.5}),
    ("mask_ratio_0.9", ("mask_ratio",), {"mask_ratio": 0.9}),
    ("decoder_depth_0", ("decoder_depth",), {"decoder_num_layers": 0}),
    ("decoder_depth_1", ("decoder_depth",), {"decoder_num_layers": 1}),
    ("decoder_depth_4", ("decoder_depth",), {"decoder_num_layers": 4}),
    ("mask_token_in_encoder", ("mask_token_in_encoder",), {"mask_token_in_encoder": True}),
    ("pixel_targets", ("target",), {"norm_pix_loss": False}),
    ("loss_on_all_patches", ("target",), {"loss_on": "all"}),
    # BERT's whole design on images: 15% masked, mask tokens in the encoder, a one-layer head.
    ("bert_design", ("mask_token_in_encoder",),
     {"mask_ratio": 0.15, "decoder_num_layers": 0, "mask_token_in_encoder": True}),
)

