"""Shared fixtures: quiet TensorFlow, a tiny model, and real CIFAR-10 images from ../shared/data."""

import importlib
import importlib.util
import itertools
import json
import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from devtools import cifar
from devtools.tfds_folder import folder_as_tfds
from keras_mae import MaskedAutoencoder, ViTBackbone
from keras_mae.models.presets import split_arguments
from keras_mae.training.callbacks import AtomicBackupAndRestore
from keras_mae.training import pretrain as pretrain_module
from keras_mae.training.config import default_config, use_cifar10
from keras_mae.training.distribute import split_cpu
from keras_mae.training.pretrain import pretrain

# Two logical CPU devices, so that MirroredStrategy runs in-process without GPUs. It must happen
# before TensorFlow initialises its devices, hence at import.
split_cpu(2)

REPO = pathlib.Path(__file__).resolve().parents[1]


def page_generator(name):
    """docs/<name>.py, the script that writes a generated page (or its table), as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_page", REPO / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_module(name):
    """A bench module, imported as the benches import each other (from bench/)."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "bench"))

TINY = dict(
    image_size=(16, 24), patch_size=4, num_channels=3,
    hidden_dim=32, num_layers=2, num_heads=4, mlp_dim=64,
    decoder_hidden_dim=16, decoder_num_layers=1, decoder_num_heads=2, decoder_mlp_dim=32,
)


def make_mae(**arguments):
    """A `MaskedAutoencoder` from flat arguments (the backbone's and its own, as presets hold)."""
    backbone, own = split_arguments(arguments)
    return MaskedAutoencoder(ViTBackbone(**backbone, name="backbone"), **own)


def random_batch(model, batch=2, seed=0):
    """(images [B, H, W, C], masking noise [B, L]) of normal pixels and uniform noise, float32."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, *model.image_size, model.num_channels)).astype("float32")
    noise = rng.random((batch, model.num_patches)).astype("float32")
    return images, noise


def pretend_gpus(monkeypatch, count):
    """Make TensorFlow list `count` logical GPUs, whatever the machine has: the choices that
    depend on GPUs are tested for a CPU-only host and a host with GPUs alike."""
    real = tf.config.list_logical_devices

    def listing(device_type=None):
        if device_type == "GPU":
            return [types.SimpleNamespace(name=f"/device:GPU:{i}", device_type="GPU")
                    for i in range(count)]
        return real(device_type)

    monkeypatch.setattr(tf.config, "list_logical_devices", listing)


STRATEGIES_MADE = itertools.count(1)


def fresh_collective_keys():
    """Give the next MirroredStrategy collective keys of its own: TF numbers every strategy's
    collectives from the same keys and its runtime keeps a key's shape across strategies, so
    two strategies of one process that reduce in another order would clash."""
    tf.distribute.MirroredStrategy._collective_key_base = 10_000 * next(STRATEGIES_MADE)


@pytest.fixture
def restored_collective_keys(monkeypatch):
    """After the test, strategies number their collectives as before it."""
    monkeypatch.setattr(tf.distribute.MirroredStrategy, "_collective_key_base",
                        tf.distribute.MirroredStrategy._collective_key_base)


GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}


def small_pretraining(steps_per_execution):
    """Two epochs of 3 steps on the bundled sample, N steps per execution, without XLA."""
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"  # checked; the model is tiny (below)
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.batch_size, config.epochs, config.steps_per_epoch, config.eval_steps = 16, 2, 3, 1
    config.jit_compile, config.export_saved_model, config.num_figure_images = False, False, 0
    config.steps_per_execution = steps_per_execution
    return config


@pytest.fixture
def tiny_model(monkeypatch):
    """Runs build a tiny grey MAE instead of the preset's (the same seed: the same weights)."""
    monkeypatch.setattr(pretrain_module, "build_model",
                        lambda config: make_mae(**GREY_TINY, seed=config.seed))


@pytest.fixture
def tiny_config():
    """Constructor arguments of a tiny non-square MAE (4x6 patches), fast enough for any test."""
    return dict(TINY)


def extract_cifar(destination, per_class):
    """Extract the first `per_class` train and `per_class // 4` test JPEGs of every class into
    `destination` (train/<class>/, test/<class>/), as the benches and experiments do."""
    if not cifar.CIFAR_ARCHIVE.exists():
        pytest.skip(f"Real data not found at {cifar.CIFAR_ARCHIVE}")
    return cifar.extract_cifar(cifar.CIFAR_ARCHIVE, destination, per_class)


class Killed(Exception):
    """Stands for the process being killed."""


def killed_after_backup(monkeypatch, run, workdir, backups=1):
    """`run(workdir)` until it has written `backups` backups, then stopped as a kill would;
    returns the newest backup's metadata. `workdir` may be a local path or a URL (ram://)."""
    save, written = AtomicBackupAndRestore._save_model, []

    def save_then_die(self):
        save(self)
        written.append(self)
        if len(written) == backups:
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(AtomicBackupAndRestore, "_save_model", save_then_die)
        with pytest.raises(Killed):
            run(workdir)
    states = tf.io.gfile.glob(os.path.join(str(workdir), "backup", "state-*"))  # or a URL's
    newest = max(states, key=lambda state: int(state.rsplit("-", 1)[1]))
    with tf.io.gfile.GFile(os.path.join(newest, "training_metadata.json")) as metadata:
        return json.load(metadata)


@pytest.fixture(scope="session")
def cifar_folder(tmp_path_factory):
    """Real CIFAR-10 JPEGs: train/<class>/ (400 per class) and test/<class>/ (100 per class)."""
    return extract_cifar(tmp_path_factory.mktemp("cifar10"), per_class=400)


@pytest.fixture(scope="session")
def small_cifar_folder(tmp_path_factory):
    """Real CIFAR-10 JPEGs: train/<class>/ (40 per class) and test/<class>/ (10 per class)."""
    return extract_cifar(tmp_path_factory.mktemp("cifar10_small"), per_class=40)


@pytest.fixture(scope="session")
def cifar_tfds(small_cifar_folder, tmp_path_factory):
    """{file format: TFDS data_dir} of the 400 training JPEGs of `small_cifar_folder` as TFDS
    data set "cifar10_jpeg" (split "train", in `from_folder`'s order), written offline as
    ArrayRecord (4 files) and as TFRecord (20 files, more than TFDS reads at once, so that
    their order matters)."""
    return {
        file_format: folder_as_tfds(
            small_cifar_folder / "train", tmp_path_factory.mktemp(file_format), "cifar10_jpeg",
            file_format, num_shards=num_shards)
        for file_format, num_shards in (("array_record", 4), ("tfrecord", 20))
    }


def cifar_config(folder):
    """A short pretraining of the micro preset on the real CIFAR-10 JPEGs of `folder`."""
    config = use_cifar10(default_config())
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.train = str(folder / "train")
    config.data.eval = str(folder / "test")
    config.batch_size = 64
    config.epochs = 4
    config.optim.base_lr = 4e-3  # peak lr 1e-3 at batch 64
    config.optim.warmup_epochs = 1
    config.export_saved_model = False  # tests of serving use runs of their own
    return config


@pytest.fixture(scope="session")
def cifar_run(cifar_folder, tmp_path_factory):
    """(config, workdir, model, history) of one short pretraining run on real CIFAR-10, shared
    by the tests that judge what it learned and what it wrote (slow tests, all of them)."""
    config = cifar_config(cifar_folder)
    workdir = tmp_path_factory.mktemp("cifar_run")
    model, history = pretrain(config, workdir)
    return config, workdir, model, history


@pytest.hookimpl(tryfirst=True)  # before `-m` selects
def pytest_collection_modifyitems(items):
    """A test that needs the CIFAR-10 pretraining run (minutes) is a slow test."""
    for item in items:
        if "cifar_run" in item.fixturenames:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With KERAS_MAE_NO_SKIPS=1 (CI, which has the shared data and PyTorch), a skipped test
    fails: a green run must have run every test it holds."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("KERAS_MAE_NO_SKIPS") == "1" and report.skipped and not hasattr(
            report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped where every test must run (KERAS_MAE_NO_SKIPS=1): {reason}"


def numpy_patchify(images, patch_size):
    """[B, H, W, C] -> [B, L, p*p*C] in NumPy: patches in rows, each (row, column, channel)."""
    batch, height, width, channels = images.shape
    rows, cols, p = height // patch_size, width // patch_size, patch_size
    x = np.asarray(images).reshape(batch, rows, p, cols, p, channels).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, rows * cols, p * p * channels)


def numpy_unpatchify(patches, patch_size, grid_size, channels):
    """The inverse of `numpy_patchify`: [B, L, p*p*C] -> [B, H, W, C]."""
    (rows, cols), p = grid_size, patch_size
    x = np.asarray(patches).reshape(-1, rows, cols, p, p, channels).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, rows * p, cols * p, channels)


def numpy_mask(noise, mask_ratio):
    """[B, L] 1 where a patch is removed: the int(L * (1 - ratio)) lowest-noise patches stay."""
    keep = int(noise.shape[1] * (1 - mask_ratio))
    ranks = np.argsort(np.argsort(noise, axis=1), axis=1)
    return (ranks >= keep).astype(np.float32)


def numpy_reconstruction(images, pred, mask, patch_size, norm_pix):
    """The reference demo's pictures in NumPy, in the space of the normalised `images`:
    masked = patches * (1 - mask), reconstruction = pred, pasted = masked + pred * mask; with
    norm_pix, pred * sqrt(unbiased patch variance + 1e-6) + patch mean first."""
    images = np.asarray(images, np.float64)
    patches = numpy_patchify(images, patch_size)
    pred = np.asarray(pred, np.float64)
    if norm_pix:
        mean = patches.mean(-1, keepdims=True)
        pred = pred * np.sqrt(patches.var(-1, ddof=1, keepdims=True) + 1e-6) + mean
    mask = np.asarray(mask, np.float64)[:, :, None]
    grid, channels = (images.shape[1] // patch_size, images.shape[2] // patch_size), images.shape[3]
    back = lambda x: numpy_unpatchify(x, patch_size, grid, channels)
    return {"masked": back(patches * (1 - mask)), "reconstruction": back(pred),
            "pasted": back(patches * (1 - mask) + pred * mask)}


@pytest.fixture
def child_processes():
    """A list for the `subprocess.Popen`s a test starts: whatever is still running when the test
    ends (a failed assertion, a timeout) is killed and reaped, not left behind."""
    processes = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        try:
            process.communicate(timeout=60)
        except Exception:  # noqa: BLE001 - teardown must reach every process
            pass
