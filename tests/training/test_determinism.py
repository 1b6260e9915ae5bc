"""Same seed, same data, CPU: two runs give identical losses step by step and identical weights."""

import pytest
import tensorflow as tf

from keras_mae.training import runner
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain


# The run picks its device itself ("auto": the first GPU where there is one), and GPU kernels
# (atomics in reductions) are not bitwise reproducible: the promise is the CPU's.
@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                    reason="a GPU is present: the run would use it, and bitwise equality is "
                           "promised on CPU")
@pytest.mark.slow
def test_two_runs_with_the_same_seed_on_the_same_images_are_identical(cifar_folder, tmp_path):
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.source, config.data.train, config.data.eval = "folder", str(
        cifar_folder / "test"), ""
    config.data.image_size, config.data.num_channels = (32, 32), 3
    config.data.mean, config.data.std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    config.batch_size, config.epochs, config.steps_per_epoch = 32, 3, 1  # one step per epoch
    config.optim.warmup_epochs, config.jit_compile, config.num_figure_images = 1, False, 2
    config.figure_every_epochs, config.export_saved_model = 3, False  # not what is tested
    losses, fingerprints = [], []
    for run in ("first", "second"):
        model, history = pretrain(config, tmp_path / run)
        losses.append(history.history["loss"])
        fingerprints.append(runner.weights_fingerprint(model))
    assert losses[0] == losses[1]  # bitwise, step by step
    assert len(set(losses[0])) == 3  # and the steps did differ
    assert fingerprints[0] == fingerprints[1]
