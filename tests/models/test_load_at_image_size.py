"""`keras_mae.load(source, image_size=...)` for every source: the position tables of encoder and
decoder fitted to the new grid (fixed sin-cos tables built anew, learnt ones resized as
PyTorch's bicubic `interpolate_pos_embed`), non-square grids included, every other weight kept."""

import numpy as np
import pytest

import keras_mae
from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier
from keras_mae.errors import InputError
from keras_mae.layers.position_embedding import sincos_2d

from conftest import TINY, make_mae

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch_reference as ref  # noqa: E402


def torch_interpolate_pos_embed(table, grid, new_grid):
    """The reference's `util/pos_embed.interpolate_pos_embed` on a [1 + rows*cols, D] table:
    cls row kept, the grid resized by PyTorch's bicubic (align_corners=False)."""
    table = torch.from_numpy(np.asarray(table, np.float32))
    grid_part = table[1:].reshape(1, *grid, -1).permute(0, 3, 1, 2)
    resized = torch.nn.functional.interpolate(grid_part, size=new_grid, mode="bicubic",
                                              align_corners=False)
    return torch.cat([table[:1], resized.permute(0, 2, 3, 1).reshape(-1, table.shape[1])]).numpy()


def assert_other_weights_kept(original, resized):
    for source, target in zip(original.weights, resized.weights):
        if source.name != "pos_embed":
            np.testing.assert_array_equal(source.numpy(), target.numpy(), err_msg=source.path)


def assert_sincos_tables(model, grid):
    np.testing.assert_allclose(model.backbone.pos_embed.numpy()[0],
                               sincos_2d(model.backbone.hidden_dim, grid, True), atol=1e-6)
    width = model.decoder.pos_embed.shape[-1]
    np.testing.assert_allclose(model.decoder.pos_embed.numpy()[0],
                               sincos_2d(width, grid, True), atol=1e-6)


def runs_at(model, image_size):
    images = np.random.default_rng(0).normal(size=(2, *image_size, model.num_channels))
    if isinstance(model, MaskedAutoencoder):
        return model(images.astype(np.float32))["pred"].shape
    return model(images.astype(np.float32)).shape


@pytest.fixture(scope="module")
def tiny_reference():
    return ref.random_reference(ref.hf_config_for(
        {**keras_mae.models.presets.PRESETS["mae_vit_micro_patch4_32"]["backbone"],
         **keras_mae.models.presets.PRESETS["mae_vit_micro_patch4_32"]["decoder"]}))


def test_a_keras_mae_gets_sincos_tables_of_the_new_non_square_grid(tmp_path):
    mae = make_mae(**TINY, seed=0)  # 16x24 images: a 4x6 grid
    mae.save(tmp_path / "mae.keras")
    loaded = keras_mae.load(tmp_path / "mae.keras", image_size=(24, 40))
    assert loaded.backbone.image_size == (24, 40) and loaded.num_patches == 6 * 10
    assert_sincos_tables(loaded, (6, 10))
    assert_other_weights_kept(mae, loaded)
    assert runs_at(loaded, (24, 40)) == (2, 60, 4 * 4 * 3)


def test_a_keras_classifiers_learnt_table_is_resized_as_pytorchs_bicubic(tmp_path):
    arguments = {k: TINY[k] for k in ("image_size", "patch_size", "num_channels", "hidden_dim",
                                      "num_layers", "num_heads", "mlp_dim")}
    classifier = ViTClassifier(ViTBackbone(**arguments, trainable_pos_embed=True), 5)
    table = np.random.default_rng(1).normal(size=classifier.backbone.pos_embed.shape)
    classifier.backbone.pos_embed.assign(table.astype(np.float32))
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras_mae.load(tmp_path / "classifier.keras", image_size=(32, 20))
    np.testing.assert_allclose(loaded.backbone.pos_embed.numpy()[0],
                               torch_interpolate_pos_embed(table[0], (4, 6), (8, 5)), atol=1e-5)
    assert_other_weights_kept(classifier, loaded)
    assert runs_at(loaded, (32, 20)) == (2, 5)


def test_a_released_pth_loads_at_another_non_square_size(tiny_reference, tmp_path):
    ref.save_official(tiny_reference, tmp_path / "mae_visualize.pth")
    original = keras_mae.load(tmp_path / "mae_visualize.pth")
    loaded = keras_mae.load(tmp_path / "mae_visualize.pth", image_size=(48, 32))
    assert loaded.backbone.grid_size == (12, 8)
    assert_sincos_tables(loaded, (12, 8))
    assert_other_weights_kept(original, loaded)
    assert runs_at(loaded, (48, 32)) == (2, 96, 48)


def test_a_fine_tuned_pths_learnt_table_is_resized_as_the_reference_does(tiny_reference,
                                                                        tmp_path):
    state = ref.official_state_dict(tiny_reference, with_decoder=False)
    generator = torch.Generator().manual_seed(2)
    learnt = 0.02 * torch.randn(state["pos_embed"].shape, generator=generator)
    dim = state["pos_embed"].shape[-1]
    state.update({"pos_embed": learnt, "fc_norm.weight": torch.ones(dim),
                  "fc_norm.bias": torch.zeros(dim), "head.weight": torch.zeros(10, dim),
                  "head.bias": torch.zeros(10)})
    del state["norm.weight"], state["norm.bias"]
    torch.save({"model": state}, tmp_path / "mae_finetuned.pth")
    loaded = keras_mae.load(tmp_path / "mae_finetuned.pth", image_size=(40, 24))
    assert isinstance(loaded, ViTClassifier)
    np.testing.assert_allclose(loaded.backbone.pos_embed.numpy()[0],
                               torch_interpolate_pos_embed(learnt[0].numpy(), (8, 8), (10, 6)),
                               atol=1e-5)
    assert runs_at(loaded, (40, 24)) == (2, 10)


def test_a_pth_of_a_non_square_grid_needs_its_own_size_to_be_read(tiny_reference, tmp_path):
    state = ref.official_state_dict(tiny_reference)
    state["pos_embed"] = torch.from_numpy(sincos_2d(128, (6, 8), True)[None])
    state["decoder_pos_embed"] = torch.from_numpy(sincos_2d(64, (6, 8), True)[None])
    torch.save({"model": state}, tmp_path / "wide.pth")
    with pytest.raises(InputError, match=r"wide.pth': Its position table holds 48 patches, no "
                                         r"square grid: pass the checkpoint's own image_size"):
        keras_mae.load(tmp_path / "wide.pth")
    loaded = keras_mae.load(tmp_path / "wide.pth", image_size=(24, 32))
    assert loaded.backbone.grid_size == (6, 8)
    assert_sincos_tables(loaded, (6, 8))


def test_a_huggingface_folder_loads_at_another_size(tiny_reference, tmp_path):
    tiny_reference.save_pretrained(tmp_path / "hf")
    original = keras_mae.load(tmp_path / "hf")
    loaded = keras_mae.load(tmp_path / "hf", image_size=(36, 44))
    assert loaded.backbone.grid_size == (9, 11)
    assert_sincos_tables(loaded, (9, 11))
    assert_other_weights_kept(original, loaded)
    assert loaded.norm_pix_loss == original.norm_pix_loss
    assert runs_at(loaded, (36, 44)) == (2, 99, 48)


def test_a_preset_is_built_at_the_size_asked():
    model = keras_mae.load("mae_vit_micro_patch4_32", image_size=(16, 48))
    assert model.backbone.grid_size == (4, 12)
    assert_sincos_tables(model, (4, 12))
