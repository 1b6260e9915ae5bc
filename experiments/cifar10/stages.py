"""The stages of the CIFAR-10 proof, in order: each a `train.py` run of a config of this folder,
on the data split it names, from the pretrained encoder (`init`) or without one."""

import functools

from experiments import report
from experiments.stage import Stage

DATA = "cifar10"  # the extracted ../shared/data/cifar10-jpeg archive, in the runs folder
# The linear probe's settings, chosen on held-out images: 3-epoch probes of the pretrained
# encoder on train[:45000], scored on train[45000:] (pooling, base lr). The mean patch token
# only: the cls token scored below it at every lr of the first protocol (results/cifar10.json,
# select_probe_*_tfcrop).
PROBE_CANDIDATES = (("avg", 10.0), ("avg", 30.0), ("avg", 100.0))
STAGES = (
    Stage("pretrain", "pretrain.py", train="train[:45000]", eval="train[45000:]", publish=True),
    Stage("knn_pretrained", "knn.py", init="pretrain"),
    Stage("knn_random", "knn.py"),
    *(Stage(f"{report.SELECTION_PREFIX}{pooling}_lr{lr:g}", "linprobe.py", train="train[:45000]",
            eval="train[45000:]", init="pretrain",
            overrides=("epochs=3", "optim.warmup_epochs=1", f"model.pooling={pooling}",
                       f"optim.base_lr={lr}"))
      for pooling, lr in PROBE_CANDIDATES),
    Stage("linprobe_pretrained", "linprobe.py", init="pretrain"),
    Stage("linprobe_random", "linprobe.py"),
    Stage("finetune_pretrained", "finetune.py", init="pretrain"),
    Stage("finetune_scratch", "finetune.py"),
)

write_report = functools.partial(report.write, "cifar10")
recorded = functools.partial(report.recorded, "cifar10")
