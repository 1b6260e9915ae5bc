"""`keras_mae.load`: one way in for presets, `.keras` files of any keras_mae version and
released checkpoints (the `.pth` and HuggingFace forms are pinned in tests/tools/test_convert.py)."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import keras_mae
from keras_mae.errors import InputError

from conftest import REPO, TINY, make_mae

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def test_a_preset_name_gives_a_new_model_of_that_preset():
    model = keras_mae.load("mae_vit_micro_patch4_32", mask_ratio=0.5)
    assert isinstance(model, keras_mae.MaskedAutoencoder)
    assert model.backbone.num_layers == 6 and model.mask_ratio == 0.5


def test_a_keras_file_round_trips_and_refuses_overrides(tmp_path):
    model = make_mae(**TINY, seed=1)
    model.save(tmp_path / "mae.keras")
    loaded = keras_mae.load(tmp_path / "mae.keras")
    for original, reloaded in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(original, reloaded)
    with pytest.raises(InputError, match="holds its whole configuration"):
        keras_mae.load(tmp_path / "mae.keras", mask_ratio=0.5)


@pytest.mark.parametrize("name", ["missing.keras", "notes.txt"])
def test_what_is_not_a_model_is_refused_naming_it(tmp_path, name):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(InputError, match=name):
        keras_mae.load(tmp_path / name)


def test_keras_files_of_keras_mae_0_1_load_with_the_same_outputs():
    """The fixtures were written by keras_mae 0.1 (flat configs, the encoder as `encoder`), with
    the outputs that version computed."""
    expected = np.load(FIXTURES / "legacy_outputs.npz")
    mae = keras_mae.load(FIXTURES / "legacy_mae.keras")
    assert isinstance(mae, keras_mae.MaskedAutoencoder) and mae.norm_pix_loss
    pred = mae(expected["images"], noise=expected["noise"])["pred"]
    np.testing.assert_allclose(pred, expected["pred"], atol=1e-6)
    classifier = keras_mae.load(FIXTURES / "legacy_classifier.keras")
    assert isinstance(classifier, keras_mae.ViTClassifier) and classifier.pooling == "avg"
    assert classifier.backbone.drop_path_rate == 0.1 and classifier.backbone.pos_embed.trainable
    np.testing.assert_allclose(classifier(expected["images"]), expected["logits"], atol=1e-6)


def test_the_readmes_load_model_line_works_in_a_fresh_python_once_keras_mae_is_imported(
        tmp_path):
    make_mae(**TINY).save(tmp_path / "model.keras")
    script = ("import keras, keras_mae\n"
              f"model = keras.models.load_model({str(tmp_path / 'model.keras')!r})\n"
              "print(type(model).__name__)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("MaskedAutoencoder")
