"""A run killed and re-run with the same command ends with the uninterrupted run's weights: for
fine-tuning (drop path's random stream is in the backup) and linear probing killed at an
epoch's end, and for fine-tuning and pretraining killed inside an epoch (the resumed run goes on
at the next example)."""


import numpy as np
import pytest

from keras_mae.training import pretrain as pretrain_module
from keras_mae.training.config import default_config, finetune_config, linprobe_config
from keras_mae.training.evaluate import train_classifier
from keras_mae.training.pretrain import pretrain

from conftest import TINY, killed_after_backup, make_mae

GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}


def small(config, init_checkpoint):
    """`config` on the bundled sample: 2 epochs of 3 steps of 16 images, a tiny pretrained
    encoder, without XLA, SavedModel or held-out data."""
    config.init_checkpoint = init_checkpoint
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.data.eval = ""
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 2, 3
    config.jit_compile, config.export_saved_model = False, False
    return config


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    path = tmp_path_factory.mktemp("mae") / "mae.keras"
    make_mae(**GREY_TINY, seed=0).save(path)
    return str(path)


def assert_same_variables(mine, theirs):
    """Every variable (weights and random states) equal bit for bit, by the model's order."""
    assert len(mine.variables) == len(theirs.variables)
    for a, b in zip(mine.variables, theirs.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


# Fine-tuning (~45 s) in the slow suite; linear probing, the same resume with a frozen backbone,
# in the default one.
@pytest.mark.parametrize("make_config", [pytest.param(finetune_config, marks=pytest.mark.slow),
                                         linprobe_config])
def test_a_classifier_killed_after_epoch_1_resumes_to_the_uninterrupted_weights(
        make_config, pretrained, monkeypatch, tmp_path):
    def run(workdir):
        return train_classifier(small(make_config(), pretrained), workdir)

    whole, _ = run(tmp_path / "whole")
    killed = tmp_path / "killed"
    assert killed_after_backup(monkeypatch, run, killed)["epoch"] == 1
    resumed, history = run(killed)
    assert history.history["epoch"] == [1, 2]
    assert int(resumed.optimizer.iterations) == 2 * 3
    assert_same_variables(resumed, whole)


@pytest.mark.slow  # ~60 s; pretraining's mid-epoch resume stays in the default suite
def test_finetuning_killed_inside_epoch_2_resumes_at_the_next_example(
        pretrained, monkeypatch, tmp_path):
    def run(workdir):
        config = small(finetune_config(), pretrained)
        config.backup_every_steps = 2  # after steps 2, 4 (epoch 2's first), 6
        return train_classifier(config, workdir)

    whole, _ = run(tmp_path / "whole")
    killed = tmp_path / "killed"
    backup = killed_after_backup(monkeypatch, run, killed, backups=2)
    assert (backup["epoch"], backup["step"]) == (1, 1)  # epoch 2, one of its 3 steps done
    resumed, history = run(killed)
    assert history.history["epoch"] == [1, 2]
    assert int(resumed.optimizer.iterations) == 2 * 3
    assert_same_variables(resumed, whole)


def test_pretraining_killed_inside_an_epoch_resumes_at_the_next_example(monkeypatch, tmp_path):
    """Killed after step 2 of epoch 2, and after epoch 1's last step but before its end (its
    evaluation, checkpoint and epoch-end callbacks, which the resumed run then runs)."""
    monkeypatch.setattr(pretrain_module, "build_model",
                        lambda config: make_mae(**GREY_TINY, seed=config.seed))

    def runner(backup_every_steps):
        def run(workdir):
            config = default_config()
            config.model.preset = "mae_vit_micro_patch4_28_grey"  # checked; the model is tiny
            config.data.image_size, config.data.num_channels = (28, 28), 1
            config.batch_size, config.epochs, config.steps_per_epoch = 16, 2, 4
            config.eval_steps, config.num_figure_images = 1, 0
            config.jit_compile, config.export_saved_model = False, False
            config.backup_every_steps = backup_every_steps
            return pretrain(config, workdir)
        return run

    whole, whole_history = runner(0)(tmp_path / "whole")
    for every, backups, position in ((3, 2, (1, 2)), (4, 1, (0, 4))):
        killed = tmp_path / f"killed_every_{every}"
        backup = killed_after_backup(monkeypatch, runner(every), killed, backups=backups)
        assert (backup["epoch"], backup["step"]) == position
        resumed, history = runner(every)(killed)
        assert history.history["epoch"] == [1, 2]
        assert history.history["val_loss"] == whole_history.history["val_loss"]
        assert int(resumed.optimizer.iterations) == 2 * 4
        assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == [
            "epoch_001.keras", "epoch_002.keras"]  # epoch 1's: before the kill, or after it
        assert_same_variables(resumed, whole)
