"""README promises about training that no other test pinned (issue 17): the lr rule on any
replica count, the pretraining optimiser, held-out losses on fixed masks, determinism with XLA
and for linear probing, the refusals and stops, the figure's cadence and masks, `auto`'s choice
of GPUs, top-5 accuracy, resumed fine-tuning and released weights as `init_checkpoint`."""

import json
import math
import signal
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae.data import make_dataset, sample_source
from keras_mae.data.classification import make_classification_dataset
from keras_mae.errors import InputError, TrainingStopped
from keras_mae.models.presets import PRESETS
from keras_mae.training import checks, distribute, evaluate, runner
from keras_mae.training.callbacks import ReconstructionFigure
from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.callbacks.stopping import NonFiniteLossPolicy, StopOnInterrupt
from keras_mae.training.config import default_config, finetune_config, linprobe_config
from keras_mae.training.evaluate import train_classifier
from keras_mae.training.pretrain import pretrain, with_fixed_noise
from keras_mae.visualize import TITLE_HEIGHT

from conftest import REPO, TINY, killed_after_backup, make_mae, random_batch

GREY = dict(mean=(0.2860,), std=(0.3530,))  # the bundled sample's normalisation (the defaults)


def sample_config(config, batch_size=16, epochs=1, steps_per_epoch=2, eval_steps=1):
    """`config` shrunk to the micro grey preset on the bundled sample, without XLA, figure or
    SavedModel (what the test does not look at)."""
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.batch_size, config.epochs = batch_size, epochs
    config.steps_per_epoch, config.eval_steps = steps_per_epoch, eval_steps
    config.jit_compile, config.export_saved_model = False, False
    if "num_figure_images" in config:
        config.num_figure_images = 0
    return config


GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}  # a 7x7 grid, for the sample


def tiny_pretrained(path):
    """A tiny grey MAE saved as a run saves its model: the init_checkpoint of cheap evaluation
    runs (the encoder's architecture is the checkpoint's)."""
    make_mae(**GREY_TINY, seed=0).save(path)
    return str(path)


# --- 1. lr = base_lr x global batch / 256, per-step warmup, cosine, on any replica count -------


def numpy_lr(step, peak, total_steps, warmup_steps, min_lr):
    """The paper's schedule (the reference's util/lr_sched.py, per step): linear warmup from 0,
    then a half cosine from the peak down to min_lr."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (peak - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def test_lr_is_base_lr_x_global_batch_over_256_warmup_then_cosine_on_any_replica_count(
        tmp_path):
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size, config.epochs, config.steps_per_epoch = 512, 5, 10
    config.optim.base_lr, config.optim.warmup_epochs, config.optim.min_lr = 1e-3, 2, 1e-5
    peak = 1e-3 * 512 / 256
    steps = [0, 1, 10, 19, 20, 35, 49, 50]  # start, mid-warmup, warmup's end, mid-cosine, last
    expected = [numpy_lr(step, peak, 50, 20, 1e-5) for step in steps]
    for strategy, replicas in (("one_device", 1), ("mirrored", 2)):
        config.strategy = strategy
        job = runner.prepare(config, tmp_path / strategy)
        assert job.strategy.num_replicas_in_sync == replicas
        schedule = job.learning_rate_schedule()
        actual = [float(schedule(step)) for step in steps]
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-12, err_msg=strategy)


# --- 2. the pretraining optimiser ------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_pretraining(tmp_path_factory):
    """(config, workdir, model, history) of a 2-step pretraining run on the bundled sample."""
    config = sample_config(default_config(), eval_steps=2)
    workdir = tmp_path_factory.mktemp("sample_pretraining")
    model, history = pretrain(config, workdir)
    return config, workdir, model, history


def test_pretraining_optimizer_is_adamw_with_betas_0_9_0_95_and_weight_decay_0_05(
        sample_pretraining):
    _, workdir, model, _ = sample_pretraining
    saved = keras.models.load_model(workdir / "model.keras")  # what the run wrote, too
    for optimizer in (model.optimizer, saved.optimizer):
        assert type(optimizer) is keras.optimizers.AdamW
        assert (optimizer.beta_1, optimizer.beta_2, optimizer.weight_decay) == (0.9, 0.95, 0.05)


def test_pretraining_weight_decay_spares_exactly_the_one_dimensional_weights_as_the_reference(
        sample_pretraining):
    model = sample_pretraining[2]
    # The reference (main_pretrain.py: timm's add_weight_decay, no skip list) decays every
    # trainable parameter of more than one dimension: kernels and the cls and mask tokens.
    decays = {v.path: model.optimizer._use_weight_decay(v) for v in model.trainable_variables}
    expected = {v.path: len(v.shape) > 1 for v in model.trainable_variables}
    assert sum(expected.values()) > 10 and not all(expected.values())
    assert decays == expected


# --- 3. the held-out loss on fixed masks -----------------------------------------------------


def held_out_batches(seed, count=3, batch_size=50):
    """The first `count` held-out batches pretraining evaluates on the bundled sample, with
    masking noise fixed per batch."""
    dataset = make_dataset(sample_source("validation"), (28, 28), **GREY, batch_size=batch_size,
                           training=False, drop_remainder=True)
    return with_fixed_noise(dataset, num_patches=49, seed=seed).take(count)


def test_held_out_noise_is_fixed_per_batch_index_and_the_held_out_loss_repeats_exactly():
    dataset = held_out_batches(seed=3)
    first = [batch["noise"].numpy() for batch in dataset]
    second = [batch["noise"].numpy() for batch in dataset]  # the next epoch's evaluation
    rebuilt = [batch["noise"].numpy() for batch in held_out_batches(seed=3)]  # the next run's
    other_seed = [batch["noise"].numpy() for batch in held_out_batches(seed=4)]
    assert first[0].shape == (50, 49)
    for index in range(3):
        np.testing.assert_array_equal(first[index], second[index])
        np.testing.assert_array_equal(first[index], rebuilt[index])
        assert not np.array_equal(first[index], other_seed[index])
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])

    model = make_mae(**GREY_TINY, seed=0)
    model.compile(jit_compile=False)
    losses = [model.evaluate(dataset, verbose=0, return_dict=True)["loss"] for _ in range(2)]
    assert losses[0] == losses[1]
    by_hand = np.mean([float(model.compute_masked_loss(b["images"], model(b["images"],
                                                                        noise=b["noise"])))
                       for b in dataset])
    np.testing.assert_allclose(losses[0], by_hand, rtol=1e-5)
    # Without the fixed noise the model draws new masks each time: the two losses differ.
    images_only = dataset.map(lambda batch: batch["images"])
    random_masks = [model.evaluate(images_only, verbose=0, return_dict=True)["loss"]
                    for _ in range(2)]
    assert random_masks[0] != random_masks[1]


def test_a_runs_held_out_loss_is_measured_on_the_masks_its_seed_fixes(sample_pretraining):
    config, _, model, history = sample_pretraining
    eval_ds = held_out_batches(config.seed, config.eval_steps, config.batch_size)
    by_hand = np.mean([float(model.compute_masked_loss(b["images"], model(b["images"],
                                                                        noise=b["noise"])))
                       for b in eval_ds])
    np.testing.assert_allclose(history.history["val_loss"][-1], by_hand, rtol=1e-5)


# --- 4. determinism: pretraining with XLA, linear probing --------------------------------------


@pytest.mark.slow  # ~70 s: two XLA compilations of the micro preset's step
def test_pretraining_with_xla_twice_gives_identical_losses_and_weights(tmp_path):
    config = sample_config(default_config(), epochs=2, steps_per_epoch=2)
    config.jit_compile, config.data.eval = True, ""
    losses, fingerprints = [], []
    for run in ("first", "second"):
        model, history = pretrain(config, tmp_path / run)
        assert model.jit_compile  # XLA did compile the step
        losses.append(history.history["loss"])
        fingerprints.append(runner.weights_fingerprint(model))
    assert losses[0] == losses[1] and len(set(losses[0])) == 2  # bitwise, and the epochs differ
    assert fingerprints[0] == fingerprints[1]


def small_linprobe_config(init_checkpoint):
    """Linear probing of a tiny pretrained encoder on the bundled sample, with XLA as by
    default."""
    config = sample_config(linprobe_config(), batch_size=32, steps_per_epoch=2, eval_steps=2)
    config.init_checkpoint, config.jit_compile = init_checkpoint, True
    return config


@pytest.fixture(scope="module")
def linprobe_run(tmp_path_factory):
    """(config, workdir, classifier, history) of a 1-epoch linear probe on the bundled sample."""
    config = small_linprobe_config(tiny_pretrained(tmp_path_factory.mktemp("mae") / "mae.keras"))
    workdir = tmp_path_factory.mktemp("linprobe")
    classifier, history = train_classifier(config, workdir)
    return config, workdir, classifier, history


def test_linear_probing_twice_gives_identical_losses_and_weights(linprobe_run, tmp_path):
    config, _, first, first_history = linprobe_run
    second, second_history = train_classifier(small_linprobe_config(config.init_checkpoint),
                                              tmp_path)
    assert first.jit_compile and second.jit_compile
    timing = "train_images_per_sec"  # the machine's speed, not the run's result
    assert ({k: v for k, v in first_history.history.items() if k != timing}
            == {k: v for k, v in second_history.history.items() if k != timing})
    assert runner.weights_fingerprint(first) == runner.weights_fingerprint(second)
    assert np.abs(first.head.kernel.numpy()).sum() > 0  # the head did train


# --- 5. refusals and stops ---------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("data.source", "s3"), ("task", "distill")])
def test_an_unknown_data_source_or_task_is_refused_naming_the_field(field, value):
    config = default_config()
    if field == "task":
        config.task = value
    else:
        config.data.source = value
    with pytest.raises(InputError) as error:
        checks.check_config(config)
    message = str(error.value)
    assert message.startswith(f"Unknown {field} {value!r}; use one of ")
    assert f"(--config.{field})" in message


class RecordingBackup:
    """Stands for the run's backup: counts the backups asked for."""

    backup_dir = "backup"

    def __init__(self):
        self.saves = 0

    def save_now(self):
        self.saves += 1


def test_a_second_ctrl_c_quits_at_once_without_writing_a_backup(capsys):
    backup = RecordingBackup()
    interrupt = StopOnInterrupt(backup)
    handler_before = signal.getsignal(signal.SIGINT)  # SIG_IGN in a shell's background job
    with interrupt.catching_interrupts():
        signal.raise_signal(signal.SIGINT)  # the first: stop after this step
        assert "Ctrl-C again to quit at once" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second: at once
    assert backup.saves == 0  # the previous backup is kept as it is
    assert signal.getsignal(signal.SIGINT) is handler_before  # restored


def test_an_epoch_whose_every_step_was_skipped_ends_the_run_and_a_partly_skipped_one_does_not(
        tmp_path):
    policy = NonFiniteLossPolicy("skip", tmp_path)
    policy.set_model(types.SimpleNamespace(steps_per_execution=1))
    policy.on_epoch_begin(0)
    for batch, skipped in enumerate([1, 2, 2]):  # 2 of 3 steps skipped: the run goes on
        policy.on_train_batch_begin(batch)
        policy.on_train_batch_end(batch, {"loss": 1.0, "skipped_steps": float(skipped)})
    policy.on_epoch_end(0)
    policy.on_epoch_begin(1)
    for batch in range(3):
        policy.on_train_batch_begin(batch)
        policy.on_train_batch_end(batch, {"loss": 0.0, "skipped_steps": float(batch + 1)})
    with pytest.raises(TrainingStopped, match="Every one of the 3 steps of epoch 2 had a NaN or "
                                              "Inf loss and was skipped"):
        policy.on_epoch_end(1)


FULL_DISK_AT_THE_SECOND_BACKUP = r"""
import errno, os, runpy, sys
import keras

save_weights = keras.Model.save_weights
calls = []

def save_weights_then_the_disk_is_full(self, filepath, *args, **kwargs):
    calls.append(filepath)
    if len(calls) == 2:  # the backup at the end of epoch 2
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))
    return save_weights(self, filepath, *args, **kwargs)

keras.Model.save_weights = save_weights_then_the_disk_is_full
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path("train.py", run_name="__main__")
"""


@pytest.mark.slow
def test_train_py_on_a_disk_that_fills_up_ends_in_one_line_exit_1_keeping_the_last_backup(
        tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_AT_THE_SECOND_BACKUP, "--config",
         "configs/quickstart.py", "--workdir", str(workdir), "--config.epochs=2",
         "--config.steps_per_epoch=1", "--config.batch_size=16", "--config.eval_steps=1",
         "--config.num_figure_images=0", "--config.export_saved_model=false",
         "--config.jit_compile=false"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: Out of disk space in {workdir} (No space left on "
                                "device writing "), last_line
    assert "re-run the same command to resume" in last_line
    assert "Traceback" not in result.stderr
    assert [p.name for p in (workdir / "backup").iterdir()] == ["state-1"]  # no staging left
    assert AtomicBackupAndRestore.resume_epoch(workdir / "backup") == 1
    assert [p.name for p in (workdir / "checkpoints").iterdir()] == ["epoch_001.keras"]
    keras.models.load_model(workdir / "checkpoints" / "epoch_001.keras")  # whole
    assert not (workdir / "model.keras").exists()


# --- 6. the figure every N epochs, on the same masks -------------------------------------------


def logged_figures(log_dir, tag="reconstructions"):
    """{step: uint8 image} of every image summary `tag` under `log_dir`."""
    figures = {}
    for event_file in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                if value.tag == tag:
                    png = tf.make_ndarray(value.tensor)[2]  # [width, height, png]
                    figures[event.step] = tf.io.decode_png(png).numpy()
    return figures


def test_figure_every_2_epochs_is_drawn_after_epochs_2_4_and_the_last_with_the_same_masks(
        tmp_path):
    model = make_mae(**TINY, seed=0)  # 16x24 images, 4x4 patches: a 4x6 grid
    images, noise = random_batch(model, batch=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    figure = ReconstructionFigure(images, (0.5,) * 3, (0.25,) * 3, log_dir=tmp_path,
                                  every_n_epochs=2, noise=noise)
    model.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=5, steps_per_epoch=1,
              callbacks=[figure], verbose=0, shuffle=False)
    figures = logged_figures(tmp_path)
    assert sorted(figures) == [2, 4, 5]

    # Removed patches, derived here from the noise as the reference does: all but the
    # num_keep lowest-noise patches of each image.
    removed = np.ones(noise.shape, bool)
    np.put_along_axis(removed, np.argsort(noise, axis=1)[:, :model.num_keep], False, axis=1)
    scale, gap = 4, 2  # cells of >= 96 px: 64x96, 16 px per patch
    height, width = 16 * scale, 24 * scale

    def panel(grid, row, column):  # under the column titles
        top, left = TITLE_HEIGHT + row * (height + gap), column * (width + gap)
        return grid[top:top + height, left:left + width]

    for step, grid in figures.items():
        for row in range(2):
            original, masked = panel(grid, row, 0), panel(grid, row, 1)
            for index in range(24):
                r, c = divmod(index, 6)
                cell = np.s_[16 * r:16 * r + 16, 16 * c:16 * c + 16]
                if removed[row, index]:  # zero in normalised space: the mean pixel, 128
                    assert (masked[cell] == 128).all(), (step, row, index)
                else:
                    np.testing.assert_array_equal(masked[cell], original[cell])
    np.testing.assert_array_equal(panel(figures[2], 0, 1), panel(figures[4], 0, 1))
    assert not np.array_equal(panel(figures[2], 0, 2), panel(figures[4], 0, 2))  # redrawn


# --- 8. auto picks a named TPU, else every GPU, else one device ---------------------------------


@pytest.mark.parametrize("gpus, tpu, expected", [
    (2, "", "mirrored"), (1, "", "one_device"), (0, "", "one_device"), (2, "my-tpu", "tpu"),
])
def test_auto_strategy_takes_a_named_tpu_else_every_gpu_else_one_device(
        monkeypatch, gpus, tpu, expected):
    real = tf.config.list_logical_devices
    fake_gpus = [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(gpus)]
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: fake_gpus if kind == "GPU" else real(kind))
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda devices: ("mirrored", devices))
    monkeypatch.setattr(tf.distribute, "OneDeviceStrategy", lambda device: ("one_device", device))
    monkeypatch.delenv("TPU_NAME", raising=False)
    config = default_config()
    config.tpu = tpu
    assert config.strategy == "auto"
    assert distribute.resolve_strategy_name(config) == expected
    if expected == "mirrored":
        assert distribute.make_strategy(config) == (
            "mirrored", ["/device:GPU:0", "/device:GPU:1"])
    elif expected == "one_device":
        assert distribute.make_strategy(config) == (
            "one_device", "/gpu:0" if gpus else "/cpu:0")


# --- 11. top-5 accuracy of fine-tuning and probing ----------------------------------------------


def test_probing_reports_val_top5_accuracy_as_numpy_counts_it_and_at_least_val_accuracy(
        linprobe_run):
    config, workdir, classifier, _ = linprobe_run
    written = json.loads((workdir / "history.json").read_text())
    top1, top5 = written["val_accuracy"][0], written["val_top5_accuracy"][0]
    # The held-out batches of the run, and the final classifier (one epoch: the one evaluated).
    eval_ds = make_classification_dataset(
        sample_source("validation", 1), (28, 28), **GREY, batch_size=config.batch_size,
        training=False, crop_fraction=config.augment.crop_fraction).take(config.eval_steps)
    logits, labels = [], []
    for images, targets in eval_ds:
        logits.append(classifier.predict_on_batch(images))
        labels.append(np.argmax(targets, axis=1))
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    assert len(labels) == config.batch_size * config.eval_steps
    ranked = np.argsort(-logits, axis=1)
    np.testing.assert_allclose(top1, np.mean(ranked[:, 0] == labels), atol=1e-6)
    np.testing.assert_allclose(top5, np.mean((ranked[:, :5] == labels[:, None]).any(axis=1)),
                               atol=1e-6)
    assert top5 >= top1 and top5 > top1  # not the top-1 under another name


# --- 12. resumed fine-tuning ----------------------------------------------------------------


@pytest.mark.slow
def test_a_finetuning_run_killed_after_epoch_1_resumes_at_epoch_2_with_both_in_its_history(
        monkeypatch, tmp_path):
    config = sample_config(finetune_config(), epochs=2, steps_per_epoch=2)
    config.init_checkpoint = tiny_pretrained(tmp_path / "mae.keras")
    workdir = tmp_path / "run"
    killed_after_backup(monkeypatch, lambda run: train_classifier(config, run), workdir)
    assert not (workdir / "model.keras").exists() and not (workdir / "checkpoints").exists()
    [state] = (workdir / "backup").glob("state-*")
    killed_epoch = json.loads((state / "training_metadata.json").read_text())["history"]
    assert [logs["epoch"] for logs in killed_epoch] == [1]

    classifier, _ = train_classifier(config, workdir)  # the same command again
    # Epoch 2 alone was trained: epoch 1's checkpoint (written after the backup) never was.
    assert [p.name for p in (workdir / "checkpoints").iterdir()] == ["epoch_002.keras"]
    assert int(classifier.optimizer.iterations) == 2 * 2
    history = json.loads((workdir / "history.json").read_text())
    assert history["epoch"] == [1, 2]
    assert history["loss"][0] == killed_epoch[0]["loss"]
    assert len(history["val_accuracy"]) == 2 and None not in history["val_accuracy"]


def test_finetuning_learns_the_position_embeddings_from_the_sincos_start(tmp_path):
    config = sample_config(finetune_config())
    config.init_checkpoint = tiny_pretrained(tmp_path / "mae.keras")
    classifier = evaluate.build_classifier(config, num_classes=10)
    assert classifier.backbone.pos_embed.trainable
    classifier.compile(optimizer=evaluate.make_optimizer(config, classifier, 1e-3),
                       loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                       jit_compile=False)
    before = {w.path: np.asarray(w) for w in classifier.trainable_weights}
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 28, 28, 1)).astype("float32")
    classifier.fit(images, np.eye(10, dtype="float32")[rng.integers(0, 10, 8)], batch_size=8,
                   verbose=0)
    moved = {w.path for w in classifier.trainable_weights
             if not np.array_equal(before[w.path], np.asarray(w))}
    assert "backbone/block_0/attn/qkv/kernel" in moved  # the step did train the encoder
    assert "backbone/pos_embed" in moved


# --- 13. a released .pth or a HuggingFace folder as init_checkpoint ---------------------------


@pytest.mark.parametrize("form, task", [("pth", "linprobe"), ("huggingface", "finetune")])
def test_a_released_pth_or_huggingface_folder_initialises_finetuning_and_probing(
        form, task, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch_reference as ref

    if form == "pth":  # a .pth says no sizes: its shapes must be a preset's
        preset = PRESETS["mae_vit_micro_patch4_28_grey"]
        reference = ref.random_reference(ref.hf_config_for(preset))
        checkpoint = tmp_path / "mae_pretrain.pth"
        ref.save_official(reference, checkpoint)
    else:  # a HuggingFace config.json has every size
        reference = ref.random_reference(ref.hf_config_for(GREY_TINY))
        checkpoint = tmp_path / "vit-mae-tiny"
        reference.save_pretrained(checkpoint)
    config = sample_config(finetune_config() if task == "finetune" else linprobe_config(),
                           steps_per_epoch=1)
    config.init_checkpoint = str(checkpoint)
    config.model.preset = "mae_vit_base_patch16"  # ignored: the checkpoint's architecture rules
    if task == "finetune":
        config.optim.base_lr = 1e-9  # the encoder trains, but stays where it started
        config.augment.rand_augment = ""  # not what this test is about, and slow to trace
    classifier, history = train_classifier(config, tmp_path / "run")
    assert classifier.backbone.hidden_dim == reference.config.hidden_size
    assert np.isfinite(history.history["loss"]).all()
    # The run's encoder computes what the PyTorch reference computes.
    images, noise = random_batch(reference_shaped(classifier), batch=2)
    expected = ref.reference_outputs(reference, images, noise)
    keep = np.argsort(noise, axis=1)[:, :int(classifier.backbone.num_patches * 0.25)]
    latent = np.asarray(classifier.backbone(images, keep_indices=keep))
    assert np.abs(latent - expected["latent"]).max() <= 1e-4


def reference_shaped(classifier):
    """What `random_batch` needs of a model: its image size, channels and patch count."""
    backbone = classifier.backbone
    return type("Shape", (), dict(image_size=backbone.image_size,
                                  num_channels=backbone.num_channels,
                                  num_patches=backbone.num_patches))
