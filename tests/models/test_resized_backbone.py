"""Fine-tuning at another resolution than pretraining: the backbone's position table is resized
bicubically on its 2-D grid (cls row kept), as the reference's `interpolate_pos_embed`."""

import numpy as np
import pytest

import keras_mae
from keras_mae.layers.position_embedding import resize_position_table
from keras_mae.training.config import finetune_config, use_cifar10
from keras_mae.training.evaluate import pretrained_backbone

torch = pytest.importorskip("torch")


def test_the_same_grid_is_the_identity():
    table = np.random.default_rng(0).normal(size=(1 + 5 * 7, 8)).astype(np.float32)
    np.testing.assert_array_equal(resize_position_table(table, (5, 7), (5, 7)), table)


@pytest.mark.parametrize("grid, new_grid", [((4, 4), (7, 7)), ((14, 14), (32, 32)),
                                            ((6, 8), (3, 5))])
def test_a_new_grid_equals_pytorchs_bicubic_resize_with_the_cls_row_kept(grid, new_grid):
    table = np.random.default_rng(1).normal(size=(1 + grid[0] * grid[1], 16)).astype(np.float32)
    grid_part = torch.from_numpy(table[1:]).reshape(1, *grid, 16).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid_part, size=new_grid, mode="bicubic",
                                               align_corners=False)
    expected = expected.permute(0, 2, 3, 1).reshape(-1, 16).numpy()
    resized = resize_position_table(table, grid, new_grid)
    np.testing.assert_array_equal(resized[0], table[0])
    np.testing.assert_allclose(resized[1:], expected, atol=1e-5)


def test_a_checkpoint_fine_tunes_at_another_resolution(tmp_path):
    mae = keras_mae.MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32", seed=0)
    mae.save(tmp_path / "mae.keras")
    config = use_cifar10(finetune_config())
    config.init_checkpoint = str(tmp_path / "mae.keras")
    config.data.image_size = (48, 48)
    backbone = pretrained_backbone(config)
    assert backbone.image_size == (48, 48) and backbone.grid_size == (12, 12)
    np.testing.assert_allclose(
        backbone.pos_embed.numpy()[0],
        resize_position_table(mae.backbone.pos_embed.numpy()[0], (8, 8), (12, 12)), atol=1e-6)
    for source, target in zip(mae.backbone.weights, backbone.weights):
        if source is not mae.backbone.pos_embed:
            np.testing.assert_array_equal(source, target)
    assert backbone(np.zeros((1, 48, 48, 3), np.float32)).shape == (1, 145, 128)
