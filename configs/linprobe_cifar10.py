"""Linear probing of a CIFAR-10 MAE (appendix A.3): a BatchNorm + linear head on the frozen cls
token: `configs/cifar10.py:linprobe`.

    python train.py --config configs/linprobe_cifar10.py --workdir runs/cifar10_linprobe \
        --config.init_checkpoint=runs/cifar10/model.keras \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
"""

from keras_mae.training.task_config import config_beside


def get_config(task="linprobe"):
    return config_beside(__file__, "cifar10.py", task)
