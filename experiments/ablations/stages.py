"""The ablations of the paper's table 1 and figure 5, each a variant of the model pretrained the
same way, then measured by k-NN and a linear probe on the test images."""

import functools

from devtools.ablation_variants import BASE, VARIANTS
from experiments.ablations import report
from experiments.stage import Stage

DATA = "cifar10"


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
