"""keras-hub presets: our encoder as a keras-hub ViT preset that keras-hub alone runs to the same
tokens, and keras-hub ViT presets as our encoder, for `keras_mae.load` and `train.py`."""

import json
import subprocess
import sys

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier, load
from keras_mae.convert import to_keras_hub
from keras_mae.convert.keras_hub import preset_normalization
from keras_mae.data.normalization import PixelNormalization
from keras_mae.errors import InputError
from keras_mae.layers.position_embedding import sincos_2d
from keras_mae.models.presets import split_arguments
from keras_mae.training.config import default_config, linprobe_config, use_cifar10
from keras_mae.training.evaluate import train_classifier
from keras_mae.training.pretrain import pretrain

from conftest import REPO, TINY

MEAN, STD = (0.4, 0.5, 0.45), (0.2, 0.3, 0.25)
CIFAR = use_cifar10(default_config()).data
_KERAS_HUB_ALONE = """
import sys
import numpy as np
import keras_hub

preset, arrays, out = sys.argv[1:]
given = np.load(arrays)
backbone = keras_hub.models.ViTBackbone.from_preset(preset)
classifier = keras_hub.models.ViTImageClassifier.from_preset(preset, num_classes=3)
classifier.output_dense.set_weights([given["head_kernel"], given["head_bias"]])
np.savez(out, tokens=np.asarray(backbone(given["images"])),
         logits=classifier.predict(given["pixels"], verbose=0),
         position_table=backbone.get_layer("vit_patching_and_embedding")
         .position_embedding.embeddings.numpy())
assert "keras_mae" not in sys.modules, "keras_mae was imported"
"""


def randomized(model, seed=0):
    """`model` with every weight but the position tables random and far from its init."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "pos" in weight.path:
            continue
        centre = 1.0 if weight.path.endswith("gamma") else 0.0
        weight.assign(centre + 0.1 * rng.normal(size=weight.shape).astype(np.float32))
    return model


def tiny_backbone(seed=0, **changes):
    return randomized(ViTBackbone(**{**split_arguments(TINY)[0], **changes}, name="backbone"),
                      seed)


def run_keras_hub_alone(preset, tmp_path, images, pixels, head):
    """Outputs of keras-hub in a process that never imports keras_mae."""
    np.savez(tmp_path / "inputs.npz", images=images, pixels=pixels, head_kernel=head[0],
             head_bias=head[1])
    (tmp_path / "keras_hub_alone.py").write_text(_KERAS_HUB_ALONE)
    result = subprocess.run(
        [sys.executable, "keras_hub_alone.py", str(preset), "inputs.npz", "outputs.npz"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(tmp_path / "outputs.npz")


def test_keras_hub_alone_runs_the_exported_encoder_to_the_same_tokens(tmp_path):
    backbone = tiny_backbone()  # 16x24 images, 4x6 patches of 4, 4 heads
    model = MaskedAutoencoder(backbone)
    to_keras_hub(model, tmp_path / "preset", MEAN, STD)
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 16, 24, 3)).astype(np.float32)
    pixels = rng.integers(0, 256, size=(2, 16, 24, 3)).astype(np.uint8)
    head = (rng.normal(size=(32, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32))

    outputs = run_keras_hub_alone(tmp_path / "preset", tmp_path, images, pixels, head)
    assert np.abs(outputs["tokens"] - np.asarray(backbone(images))).max() <= 1e-5
    # Raw 0..255 images through the preset's image converter: our normalisation, then the head.
    normalized = PixelNormalization(MEAN, STD).normalize(pixels)
    expected = np.asarray(backbone(normalized))[:, 0] @ head[0] + head[1]
    assert np.abs(outputs["logits"] - expected).max() <= 1e-4
    # The fixed sin-cos table (cls row zero) is keras-hub's position embedding.
    np.testing.assert_allclose(outputs["position_table"], sincos_2d(32, (4, 6), cls_token=True),
                               atol=1e-6)
    np.testing.assert_allclose(preset_normalization(tmp_path / "preset"), (MEAN, STD))


def test_a_cls_token_classifier_exports_with_its_head_and_probe_batch_norm(tmp_path):
    classifier = ViTClassifier(tiny_backbone(), 3, pooling="cls", head_batch_norm=True)
    randomized(classifier.head, seed=8)
    rng = np.random.default_rng(9)
    classifier.head_norm.moving_mean.assign(rng.normal(size=32).astype(np.float32))
    classifier.head_norm.moving_variance.assign(rng.uniform(0.5, 2, size=32).astype(np.float32))
    hub = to_keras_hub(classifier, tmp_path / "preset", MEAN, STD)
    assert isinstance(hub, keras_hub.models.ViTImageClassifier)
    loaded = keras_hub.models.ViTImageClassifier.from_preset(str(tmp_path / "preset"))
    pixels = rng.integers(0, 256, size=(2, 16, 24, 3)).astype(np.uint8)
    expected = np.asarray(classifier(PixelNormalization(MEAN, STD).normalize(pixels)))
    assert np.abs(loaded.predict(pixels, verbose=0) - expected).max() <= 1e-4
    # A new head for other classes, on the same encoder.
    other = keras_hub.models.ViTImageClassifier.from_preset(str(tmp_path / "preset"),
                                                            num_classes=5)
    assert other.predict(pixels, verbose=0).shape == (2, 5)


def test_encoder_comes_back_from_keras_hub_with_the_same_outputs(tmp_path):
    backbone = tiny_backbone(num_channels=1, image_size=(16, 16), layer_norm_epsilon=1e-5)
    to_keras_hub(backbone, tmp_path / "preset", (0.3,), (0.35,))
    back = load(tmp_path / "preset")
    assert isinstance(back, ViTBackbone) and back.get_config() == backbone.get_config()
    images = np.random.default_rng(2).normal(size=(2, 16, 16, 1)).astype(np.float32)
    keep = np.array([[5, 0, 9], [15, 3, 4]])
    np.testing.assert_array_equal(back(images, keep_indices=keep),
                                  backbone(images, keep_indices=keep))
    assert not back.pos_embed.trainable


@pytest.mark.parametrize("bias", [True, False])
def test_a_keras_hub_vit_loads_as_our_encoder(tmp_path, bias):
    hub = randomized(keras_hub.models.ViTBackbone(
        image_shape=(16, 24, 3), patch_size=4, num_layers=2, num_heads=4, hidden_dim=32,
        mlp_dim=64, use_mha_bias=bias, use_mlp_bias=bias))
    learned_table = np.random.default_rng(3).normal(size=(25, 32)).astype(np.float32)
    hub.get_layer("vit_patching_and_embedding").position_embedding.embeddings.assign(
        learned_table)
    hub.save_to_preset(str(tmp_path / "preset"))
    backbone = load(tmp_path / "preset")
    images = np.random.default_rng(4).normal(size=(2, 16, 24, 3)).astype(np.float32)
    assert np.abs(np.asarray(backbone(images)) - np.asarray(hub(images))).max() <= 1e-5
    np.testing.assert_array_equal(backbone.pos_embed.numpy()[0], learned_table)


def test_what_keras_hub_cannot_hold_or_we_cannot_read_is_refused_in_one_line(tmp_path):
    pooled = ViTClassifier(tiny_backbone(), 3, pooling="avg")
    with pytest.raises(InputError, match="fc_norm.*pooling='cls'"):
        to_keras_hub(pooled, tmp_path / "pooled", MEAN, STD)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already holds files"):
        to_keras_hub(tiny_backbone(), tmp_path / "full", MEAN, STD)
    with pytest.raises(InputError, match="one per channel"):
        to_keras_hub(tiny_backbone(), tmp_path / "grey_stats", (0.5,), (0.2, 0.3))

    for name, changes, message in [
            ("oblong", dict(patch_size=(4, 8)), "4x8 patches.*square"),
            ("no_cls", dict(use_class_token=False), "no class token")]:
        keras_hub.models.ViTBackbone(**{
            **dict(image_shape=(16, 16, 3), patch_size=4, num_layers=1, num_heads=2,
                   hidden_dim=8, mlp_dim=16), **changes}).save_to_preset(str(tmp_path / name))
        with pytest.raises(InputError, match=message):
            load(tmp_path / name)
    other = tmp_path / "resnet"
    other.mkdir()
    (other / "config.json").write_text(json.dumps(
        {"module": "keras_hub.src.models.resnet.resnet_backbone", "class_name": "ResNetBackbone",
         "config": {}}))
    with pytest.raises(InputError, match="holds a ResNetBackbone, not a ViTBackbone"):
        load(other)


def test_without_keras_hub_the_error_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match="pip install -r requirements-keras-hub.txt"):
        to_keras_hub(tiny_backbone(), tmp_path / "preset", MEAN, STD)


def test_the_pretrained_cifar10_mae_exports_from_the_command_line(tmp_path):
    """The done criterion: results/cifar10_pretrain.keras as a keras-hub preset, same outputs."""
    checkpoint = REPO / "results" / "cifar10_pretrain.keras"
    result = subprocess.run(
        [sys.executable, "-m", "keras_mae.convert", "--checkpoint", str(checkpoint),
         "--to", "keras_hub", "--output", str(tmp_path / "preset"),
         "--mean", ",".join(map(str, CIFAR.mean)), "--std", ",".join(map(str, CIFAR.std))],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "keras-hub ViTBackbone" in result.stdout
    pixels = np.random.default_rng(5).integers(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
    classifier = keras_hub.models.ViTImageClassifier.from_preset(str(tmp_path / "preset"),
                                                                 num_classes=10)
    features = keras_hub.models.ViTBackbone.from_preset(str(tmp_path / "preset"))(
        classifier.preprocessor(pixels))
    ours = load(checkpoint).backbone(PixelNormalization(CIFAR.mean, CIFAR.std).normalize(pixels))
    assert np.abs(np.asarray(features) - np.asarray(ours)).max() <= 1e-5


def test_a_paper_format_pth_encoder_exports_to_keras_hub_as_the_reference_computes(tmp_path):
    """The paper's .pth encoders (here a tiny random one in their format) as keras-hub presets:
    keras-hub's tokens are the PyTorch reference's."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch_reference as ref
    from keras_mae.models.presets import PRESETS

    reference = ref.random_reference(ref.hf_config_for(PRESETS["mae_vit_micro_patch4_32"]))
    ref.save_official(reference, tmp_path / "mae_pretrain.pth", with_decoder=False)
    to_keras_hub(load(tmp_path / "mae_pretrain.pth"), tmp_path / "preset",
                 mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    images = np.random.default_rng(6).normal(size=(2, 32, 32, 3)).astype(np.float32)
    tokens = keras_hub.models.ViTBackbone.from_preset(str(tmp_path / "preset"))(images)
    assert np.abs(np.asarray(tokens) - ref.reference_tokens(reference, images)).max() <= 1e-4


def grey_preset(directory, scale=1 / (255 * 0.25), offset=-0.5 / 0.25, channels=1):
    """A keras-hub ViT for 28x28 images (the bundled sample's: grey), random weights and a
    learned position table, saved with an image converter (by default mean 0.5, std 0.25)."""
    hub = randomized(keras_hub.models.ViTBackbone(
        image_shape=(28, 28, channels), patch_size=4, num_layers=2, num_heads=4, hidden_dim=32,
        mlp_dim=64))
    hub.save_to_preset(str(directory))
    converter = keras_hub.layers.ViTImageConverter(image_size=(28, 28), scale=scale,
                                                   offset=offset)
    keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter).save_to_preset(
        str(directory))
    return hub


def small_run(config, preset):
    config.init_checkpoint = str(preset)
    config.model.preset = "mae_vit_micro_patch4_28_grey"  # the decoder's; the encoder is the preset's
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.batch_size, config.epochs, config.steps_per_epoch, config.data.eval = 8, 1, 1, ""
    config.jit_compile, config.export_saved_model = False, False
    return config


def test_a_keras_hub_vit_preset_pretrains_as_an_mae(tmp_path):
    hub = grey_preset(tmp_path / "preset")
    config = small_run(default_config(), tmp_path / "preset")
    config.num_figure_images = 0
    model, history = pretrain(config, tmp_path / "run")
    assert np.isfinite(history.history["loss"]).all()
    assert (model.decoder.num_layers, model.decoder_hidden_dim) == (2, 64)  # the micro preset's
    # The learned table is the MAE's fixed one: the step leaves it as keras-hub had it.
    hub_table = hub.get_layer("vit_patching_and_embedding").position_embedding.embeddings
    np.testing.assert_array_equal(model.backbone.pos_embed.numpy()[0], hub_table.numpy())
    # The preset's normalisation, unless the config says to keep its own.
    written = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    np.testing.assert_allclose((written["mean"], written["std"]), ([0.5], [0.25]))


def test_a_keras_hub_vit_preset_is_probed_with_its_own_or_the_configs_normalisation(tmp_path):
    hub = grey_preset(tmp_path / "preset", scale=1 / 255, offset=None)  # pixels in 0..1
    np.testing.assert_allclose(preset_normalization(tmp_path / "preset"), ((0.0,), (1.0,)))
    config = small_run(linprobe_config(), tmp_path / "preset")
    config.data.preset_normalization = False
    classifier, history = train_classifier(config, tmp_path / "run")
    assert np.isfinite(history.history["loss"]).all()
    images = np.random.default_rng(7).normal(size=(2, 28, 28, 1)).astype(np.float32)
    frozen = np.asarray(classifier.backbone(images))
    assert np.abs(frozen - np.asarray(hub(images))).max() <= 1e-5
    written = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert written["mean"] == list(default_config().data.mean)


def test_a_preset_for_other_channels_than_the_data_is_refused_before_the_run(tmp_path):
    grey_preset(tmp_path / "preset", scale=[0.02] * 3, offset=[-1.0] * 3, channels=3)  # RGB
    config = small_run(default_config(), tmp_path / "preset")  # grey data
    with pytest.raises(InputError, match="normalises 3 channels.*num_channels=3"):
        pretrain(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
