"""Fine-tune a CIFAR-10 MAE end to end, with the paper's recipe (appendix A.2) at CIFAR scale:
`configs/cifar10.py:finetune`. `--config.task=evaluate` evaluates the fine-tuned classifier.

    python train.py --config configs/finetune_cifar10.py --workdir runs/cifar10_finetune \
        --config.init_checkpoint=runs/cifar10/model.keras \
        --config.data.train=/data/cifar10/train --config.data.eval=/data/cifar10/test
"""

from keras_mae.training.task_config import config_beside


def get_config(task="finetune"):
    return config_beside(__file__, "cifar10.py", task)
