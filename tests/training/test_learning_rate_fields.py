"""The absolute learning rate beside base_lr, as the reference's --lr beside --blr."""

import pytest
import tensorflow as tf

from keras_mae.training.config import default_config, finetune_config
from keras_mae.training.runner import Job


def job(config):
    return Job(config, tf.distribute.get_strategy(), True, None, None, None, None,
               steps_per_epoch=10, first_epoch=0)


@pytest.mark.parametrize("make_config", [default_config, finetune_config])
def test_an_absolute_lr_replaces_the_scaled_base_lr(make_config):
    config = make_config()
    config.batch_size, config.epochs, config.optim.warmup_epochs = 512, 4, 1
    peak_of = lambda: float(job(config).learning_rate_schedule()(10))  # end of warmup
    assert peak_of() == pytest.approx(config.optim.base_lr * 512 / 256)
    config.optim.lr = 3e-3
    assert peak_of() == pytest.approx(3e-3)
