import math

import numpy as np
import pytest

from keras_mae.layers.position_embedding import sincos_2d


def reference_table(embed_dim, rows, cols):
    """The paper's formula written element by element: the first half of a vector encodes the
    column, the second the row; each half is [sin(p * w_k)..., cos(p * w_k)...] with
    w_k = 1 / 10000^(k / (D/4))."""
    quarter = embed_dim // 4
    table = np.zeros((rows * cols, embed_dim))
    for r in range(rows):
        for c in range(cols):
            for k in range(quarter):
                w = 1.0 / 10000 ** (k / quarter)
                table[r * cols + c, k] = math.sin(c * w)
                table[r * cols + c, quarter + k] = math.cos(c * w)
                table[r * cols + c, 2 * quarter + k] = math.sin(r * w)
                table[r * cols + c, 3 * quarter + k] = math.cos(r * w)
    return table


@pytest.mark.parametrize("grid", [(14, 14), (3, 5)])
def test_sincos_table_matches_the_papers_formula(grid):
    table = sincos_2d(32, grid, cls_token=True)
    assert table.shape == (1 + grid[0] * grid[1], 32)
    np.testing.assert_array_equal(table[0], 0.0)
    np.testing.assert_allclose(table[1:], reference_table(32, *grid), atol=1e-6)


def test_square_grid_accepts_an_int():
    np.testing.assert_array_equal(sincos_2d(16, 4), sincos_2d(16, (4, 4)))


def test_embed_dim_must_split_into_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(30, 4)
