"""Every checkpoint `keras_mae.load` (and `init_checkpoint`) cannot read ends in one line naming
the file and what was expected: damaged, foreign to its format, or of another model type."""

import io
import json
import zipfile

import keras
import numpy as np
import pytest

import keras_mae
from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier
from keras_mae.convert.huggingface import hf_config
from keras_mae.errors import InputError
from keras_mae.training.config import knn_config
from keras_mae.training.evaluate import pretrained_backbone

from conftest import TINY, make_mae

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _keras_file(tmp_path):
    path = tmp_path / "mae.keras"
    make_mae(**TINY).save(path)
    return path


def text_keras(tmp_path):
    (tmp_path / "notes.keras").write_text("not a model")
    return tmp_path / "notes.keras"


def zip_not_keras(tmp_path):
    with zipfile.ZipFile(tmp_path / "archive.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, not a Keras archive")
    return tmp_path / "archive.keras"


def truncated_keras(tmp_path):
    data = _keras_file(tmp_path).read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.keras"


def sequential_keras(tmp_path):
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "dense.keras")
    return tmp_path / "dense.keras"


def text_pth(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    return tmp_path / "notes.pth"


def truncated_pth(tmp_path):
    buffer = io.BytesIO()
    torch.save({"model": {"cls_token": torch.zeros(1, 1, 8)}}, buffer)
    (tmp_path / "cut.pth").write_bytes(buffer.getvalue()[:200])
    return tmp_path / "cut.pth"


def tensor_pth(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    return tmp_path / "tensor.pth"


def resnet_pth(tmp_path):
    torch.save({"model": {"conv1.weight": torch.zeros(64, 3, 7, 7),
                          "fc.weight": torch.zeros(1000, 512)}}, tmp_path / "resnet50.pth")
    return tmp_path / "resnet50.pth"


def _hf_folder(tmp_path, config=None, weights=None, name="hf"):
    folder = tmp_path / name
    folder.mkdir()
    config = config if config is not None else {**hf_config(TINY), "model_type": "vit_mae"}
    (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if weights is not None:
        safetensors_numpy.save_file(weights, str(folder / "model.safetensors"))
    return folder


def hf_bad_json(tmp_path):
    return _hf_folder(tmp_path, config="{not json", name="hf_bad_json")


def hf_bert(tmp_path):
    return _hf_folder(tmp_path, config={"model_type": "bert", "hidden_size": 32}, name="bert")


def hf_config_without_sizes(tmp_path):
    return _hf_folder(tmp_path, config={"model_type": "vit_mae"}, name="hf_bare")


def hf_damaged_weights(tmp_path):
    folder = _hf_folder(tmp_path, name="hf_damaged")
    (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{junk")
    return folder


def hf_weights_of_another_model(tmp_path):
    weights = {"bert.embeddings.word_embeddings.weight": np.zeros((10, 32), np.float32)}
    return _hf_folder(tmp_path, weights=weights, name="hf_other_weights")


@pytest.mark.parametrize("make, expected", [
    (text_keras, "expected a .keras archive"),
    (zip_not_keras, "expected a .keras archive"),
    (truncated_keras, "expected a .keras archive"),
    (sequential_keras, "holds a Sequential, not a MaskedAutoencoder, ViTClassifier or ViTBackbone"),
    (text_pth, "expected a .pth file that torch.save wrote"),
    (truncated_pth, "expected a .pth file that torch.save wrote"),
    (tensor_pth, "holds no state dict of weights"),
    (resnet_pth, "holds no MAE ViT: 'patch_embed.proj.weight' is missing"),
    (hf_bad_json, "config.json is not JSON"),
    (hf_bert, "holds a 'bert' model, not a ViTMAE one"),
    (hf_config_without_sizes, "config.json lacks image_size"),
    (hf_damaged_weights, "Cannot read model.safetensors as safetensors"),
    (hf_weights_of_another_model, "holds no MAE ViT"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_an_unreadable_checkpoint_is_refused_in_one_line_naming_it(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(InputError) as error:
        keras_mae.load(path)
    message = str(error.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_a_model_of_another_type_than_the_caller_needs_is_refused_naming_it(tmp_path):
    backbone = ViTBackbone(**{k: TINY[k] for k in ("image_size", "patch_size", "num_channels",
                                                   "hidden_dim", "num_layers", "num_heads",
                                                   "mlp_dim")})
    ViTClassifier(backbone, num_classes=3).save(tmp_path / "classifier.keras")
    with pytest.raises(InputError, match=r"classifier.keras' holds a ViTClassifier, not a "
                                         r"MaskedAutoencoder"):
        keras_mae.load(tmp_path / "classifier.keras", expect=MaskedAutoencoder)


@pytest.mark.parametrize("make", [truncated_keras, resnet_pth, hf_bert],
                         ids=lambda make: make.__name__)
def test_an_unreadable_init_checkpoint_is_refused_the_same_way(tmp_path, make):
    config = knn_config()
    config.init_checkpoint = str(make(tmp_path))
    with pytest.raises(InputError, match=config.init_checkpoint):
        pretrained_backbone(config)
