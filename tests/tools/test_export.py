"""SavedModel export: loaded in a fresh process, every signature matches the Keras model."""

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier
from keras_mae.export import export_saved_model, masking_noise
from keras_mae.models.presets import split_arguments

from conftest import TINY, make_mae, numpy_mask, numpy_reconstruction

REPO = pathlib.Path(__file__).resolve().parents[2]
MEAN, STD = (0.5, 0.45, 0.4), (0.25, 0.2, 0.3)
SEED = 11

# Runs in a fresh interpreter that never imports keras_mae: what a serving client has.
LOAD_AND_CALL = """
import sys, numpy as np, tensorflow as tf
mae_dir, classifier_dir, inputs_file, outputs_file = sys.argv[1:]
inputs = dict(np.load(inputs_file))
results = {}
mae, classifier = tf.saved_model.load(mae_dir), tf.saved_model.load(classifier_dir)
for batch in (1, 7):
    images = tf.constant(inputs["images"][:batch].astype(np.float32))
    noise = tf.constant(inputs["noise"][:batch])
    calls = {
        "features": mae.signatures["serving_default"](images=images),
        "reconstruct": mae.signatures["reconstruct"](images=images, seed=tf.constant(%d, tf.int64)),
        "noise": mae.signatures["reconstruct_with_noise"](images=images, noise=noise),
        "classifier_features": classifier.signatures["serving_default"](images=images),
        "classify": classifier.signatures["classify"](images=images),
        "uint8": mae.reconstruct(tf.constant(inputs["images"][:batch]), tf.constant(%d, tf.int64)),
    }
    for call, outputs in calls.items():
        for key, value in outputs.items():
            results[f"{batch}/{call}/{key}"] = value.numpy()
assert "keras_mae" not in sys.modules
np.savez(outputs_file, **results)
""" % (SEED, SEED)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A norm-pix MAE exported by the CLI from a run folder, and a classifier exported in Python."""
    root = tmp_path_factory.mktemp("export")
    mae = make_mae(**TINY, norm_pix_loss=True, seed=0)
    mae.save(root / "model.keras")
    (root / "config.json").write_text(json.dumps({"data": {"mean": MEAN, "std": STD}}))
    cli = subprocess.run(
        [sys.executable, "-m", "keras_mae.export", "--checkpoint", str(root / "model.keras"),
         "--output", str(root / "mae_export")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    backbone = ViTBackbone(**split_arguments(TINY)[0], trainable_pos_embed=True)
    classifier = ViTClassifier(backbone, num_classes=5)
    export_saved_model(classifier, root / "classifier_export", MEAN, STD)

    rng = np.random.default_rng(0)
    inputs = {
        "images": rng.integers(0, 256, (7, *mae.image_size, 3), dtype=np.uint8),
        "noise": rng.random((7, mae.num_patches)).astype(np.float32),
    }
    np.savez(root / "inputs.npz", **inputs)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_CALL, str(root / "mae_export"),
         str(root / "classifier_export"), str(root / "inputs.npz"), str(root / "outputs.npz")],
        capture_output=True, text=True, timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    return root, mae, classifier, inputs, dict(np.load(root / "outputs.npz"))


def normalise(images):
    return (images / 255.0 - np.array(MEAN)) / np.array(STD)


def pixels(images):
    return np.asarray(images) * np.array(STD) * 255.0 + np.array(MEAN) * 255.0


@pytest.mark.parametrize("batch", [1, 7])
def test_every_signature_matches_the_keras_model_in_a_fresh_process(exported, batch):
    _, mae, classifier, inputs, served = exported
    images = normalise(inputs["images"][:batch]).astype(np.float32)
    expected = {
        "features": mae.features(images),
        "classifier_features": {**classifier.features(images),
                                "probabilities": tf.nn.softmax(classifier(images))},
        "classify": {"probabilities": tf.nn.softmax(classifier(images))},
    }
    by_noise = {
        "reconstruct": masking_noise(SEED, batch, mae.num_patches),
        "uint8": masking_noise(SEED, batch, mae.num_patches),
        "noise": inputs["noise"][:batch],
    }
    for call, noise in by_noise.items():
        # The pictures composed in NumPy from the network's prediction and a NumPy mask, with
        # the norm-pix and data normalisations undone: not from `reconstruct` itself.
        noise = np.asarray(noise)
        mask = numpy_mask(noise, mae.mask_ratio)
        pred = np.asarray(mae(images, noise=noise)["pred"])
        composed = numpy_reconstruction(images, pred, mask, mae.patch_size, norm_pix=True)
        expected[call] = {key: pixels(value) for key, value in composed.items()}
        expected[call]["mask"] = mask
    for call, outputs in expected.items():
        for key, value in outputs.items():
            got = served[f"{batch}/{call}/{key}"]
            assert got.shape == tuple(np.shape(value)), (call, key)
            scale = max(1.0, float(np.abs(value).max()))
            np.testing.assert_allclose(got, value, atol=1e-5 * scale, err_msg=f"{call}/{key}")
    # Visible patches come back as sent; seeds and noise give the masks they should.
    visible = np.repeat(np.repeat(1 - expected["reconstruct"]["mask"].reshape(
        batch, 4, 6), 4, 1), 4, 2)[..., None]
    pasted = served[f"{batch}/reconstruct/pasted"]
    np.testing.assert_allclose(pasted * visible, inputs["images"][:batch] * visible, atol=1e-3)
    np.testing.assert_allclose(served[f"{batch}/classify/probabilities"].sum(-1), 1, rtol=1e-5)


def test_saved_model_cli_lists_the_signatures_with_their_shapes(exported):
    root = exported[0]
    shown = {}
    for name in ("mae_export", "classifier_export"):
        result = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli",
                                 "show", "--all", "--dir", str(root / name)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        shown[name] = result.stdout
    signatures = lambda text: set(re.findall(r"signature_def\['(\w+)'\]", text)) - {
        "__saved_model_init_op"}
    assert signatures(shown["mae_export"]) == {
        "serving_default", "reconstruct", "reconstruct_with_noise"}
    assert signatures(shown["classifier_export"]) == {"serving_default", "classify"}
    mae_text = re.sub(r"\s+", " ", shown["mae_export"])
    assert "outputs['pasted'] tensor_info: dtype: DT_FLOAT shape: (-1, 16, 24, 3)" in mae_text
    assert "outputs['mask'] tensor_info: dtype: DT_FLOAT shape: (-1, 24)" in mae_text
    assert "inputs['seed'] tensor_info: dtype: DT_INT64 shape: ()" in mae_text
    assert "outputs['pooled'] tensor_info: dtype: DT_FLOAT shape: (-1, 32)" in mae_text
    classifier_text = re.sub(r"\s+", " ", shown["classifier_export"])
    assert "outputs['probabilities'] tensor_info: dtype: DT_FLOAT shape: (-1, 5)" in classifier_text


def test_a_wrong_image_size_is_refused_with_the_expected_shape(exported):
    loaded = tf.saved_model.load(str(exported[0] / "mae_export"))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"images must be \[batch, 16, 24, 3\].*Got shape\] \[2 16 16 3\]"):
        loaded.signatures["serving_default"](images=tf.zeros((2, 16, 16, 3)))


def test_export_cli_needs_the_normalisation_when_no_run_config_is_found(tmp_path):
    make_mae(**TINY).save(tmp_path / "model.keras")
    result = subprocess.run(
        [sys.executable, "-m", "keras_mae.export", "--checkpoint", str(tmp_path / "model.keras"),
         "--output", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: No config.json") and "--mean=" in last_line
    assert not (tmp_path / "out").exists()
