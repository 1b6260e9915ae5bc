"""The ablations of the paper's table 1 and figure 5, each a variant of the model pretrained the
same way, then measured by k-NN and a linear probe on the test images."""

import functools

from experiments.ablations import report
from experiments.stage import Stage

DATA = "cifar10"
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


def _stages():
    for name, _, fields in VARIANTS:
        settings = tuple(f"model.{field}={value}" for field, value in {**BASE, **fields}.items())
        yield Stage(name, "pretrain.py", train="train[:45000]", eval="train[45000:]",
                    overrides=settings)
        yield Stage(f"{name}_knn", "knn.py", init=name)
        yield Stage(f"{name}_linprobe", "linprobe.py", init=name)


STAGES = tuple(_stages())
write_report = functools.partial(report.write, VARIANTS, BASE)
recorded = report.recorded
