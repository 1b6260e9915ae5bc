"""The reference's fine-tuning knobs as config fields (--clip_grad, --cutmix_minmax, --accum_iter,
--aa): refused when out of range, and reaching the input pipeline."""

import numpy as np
import pytest

from keras_mae.data import from_arrays
from keras_mae.data.classification import make_classification_dataset
from keras_mae.errors import InputError
from keras_mae.training.checks import check_config
from keras_mae.training.config import default_config, finetune_config


@pytest.mark.parametrize("make_config, field, value, message", [
    (default_config, "grad_accum_steps", 0, "grad_accum_steps must be at least 1"),
    (finetune_config, "optim.clip_grad", -1.0, "optim.clip_grad must be at least 0"),
    (finetune_config, "augment.cutmix_minmax", (0.8, 0.2), "0 <= min < max <= 1"),
    (finetune_config, "augment.cutmix_minmax", (0.5,), "0 <= min < max <= 1"),
    (finetune_config, "augment.rand_augment", "rand-m9-q3", "e.g. 'rand-m9-mstd0.5-inc1'"),
    (finetune_config, "augment.mix_group_size", 0, "augment.mix_group_size must be at least 1"),
])
def test_out_of_range_values_are_refused(make_config, field, value, message):
    config = make_config()
    section, _, name = field.rpartition(".")
    setattr(config[section] if section else config, name, value)
    with pytest.raises(InputError, match=message):
        check_config(config)


def test_cutmix_minmax_reaches_the_fine_tuning_batches():
    rng = np.random.default_rng(0)
    labels = np.arange(16) % 4
    source = from_arrays(rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8), labels,
                         class_names=list("abcd"))

    def targets(**mixing):
        dataset = make_classification_dataset(
            source, (8, 8), (0.5,) * 3, (0.25,) * 3, 8, training=True, rand_augment_policy="",
            erase_probability=0.0, mixup_alpha=0.0, cutmix_alpha=0.0, label_smoothing=0.0,
            **mixing)
        return next(iter(dataset))[1].numpy()

    assert set(np.unique(targets())) == {0.0, 1.0}  # nothing mixed
    mixed = targets(cutmix_minmax=(0.5, 0.75))  # boxes of 4-5 x 4-5 pixels of 64
    own_share = mixed.max(axis=1)[mixed.max(axis=1) < 1]  # images mixed with another class
    assert len(own_share) and np.allclose(own_share, own_share[0])  # one box per batch
    assert any(np.isclose(own_share[0], 1 - area / 64) for area in (16, 20, 25))
