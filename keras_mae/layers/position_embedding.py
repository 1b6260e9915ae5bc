"""Fixed 2-D sine-cosine position embeddings, built exactly as the MAE reference.

Reference: facebookresearch/mae `util/pos_embed.py`. The first half of each vector encodes
the patch's column, the second half its row (the reference's `meshgrid(w, h)` order), and an
optional leading all-zero row stands for the cls token.
"""

import numpy as np


def sincos_1d(embed_dim, positions):
    """Sine-cosine embedding of 1-D positions: [M] -> [M, embed_dim] (sin half, then cos half)."""
    if embed_dim % 2:
        raise ValueError(f"embed_dim must be even for sin-cos embeddings, got {embed_dim}.")
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    angles = np.outer(np.asarray(positions, dtype=np.float64).reshape(-1), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(embed_dim, grid_size, cls_token=False):
    """The 2-D sin-cos position table of a patch grid, as the reference's
    `get_2d_sincos_pos_embed`; patches row-major, as `patchify` orders them.

    Args:
        embed_dim: the token width D, a multiple of 4.
        grid_size: an int (square grid) or a (rows, cols) pair for non-square images.
        cls_token: add an all-zero first row for the cls token.

    Returns:
        A float32 NumPy array [rows*cols, D], or [1 + rows*cols, D] with `cls_token`.
    """
    if embed_dim % 4:
        raise ValueError(f"embed_dim must be divisible by 4 for 2-D sin-cos embeddings, got {embed_dim}.")
    rows, cols = (grid_size, grid_size) if np.isscalar(grid_size) else grid_size
    col_index, row_index = np.meshgrid(np.arange(cols), np.arange(rows))
    table = np.concatenate(
        [sincos_1d(embed_dim // 2, col_index), sincos_1d(embed_dim // 2, row_index)], axis=1
    )
    if cls_token:
        table = np.concatenate([np.zeros([1, embed_dim]), table], axis=0)
    return table.astype(np.float32)


def add_sincos_weight(layer, hidden_dim, grid_size, trainable=False):
    """Give `layer` a `pos_embed` weight [1, 1 + L, D] holding the 2-D sin-cos table (cls row 0),
    learnt if `trainable` (fine-tuning), fixed otherwise (pretraining). TensorFlow's gradient
    tape watches only variables created trainable: the flag is set at creation, not after."""
    table = sincos_2d(hidden_dim, grid_size, cls_token=True)
    weight = layer.add_weight(
        shape=(1, *table.shape), initializer="zeros", trainable=trainable, name="pos_embed"
    )
    weight.assign(table[None])
    return weight


def resize_position_table(table, grid_size, new_grid_size):
    """A learnt position table [1 + rows*cols, D] (cls row first) for another patch grid: the
    grid part resized bicubically, the cls row kept, as the reference's `interpolate_pos_embed`
    (PyTorch's bicubic, A = -0.75, align_corners=False) when fine-tuning at another resolution."""
    table = np.asarray(table, np.float64)
    rows, cols = grid_size
    grid = table[1:].reshape(rows, cols, -1)
    new_rows, new_cols = new_grid_size
    grid = np.einsum("ij,jkd,lk->ild", _bicubic_matrix(rows, new_rows), grid,
                     _bicubic_matrix(cols, new_cols))
    return np.concatenate([table[:1], grid.reshape(new_rows * new_cols, -1)]).astype(np.float32)


def _bicubic_matrix(size, new_size, a=-0.75):
    """[new_size, size]: PyTorch's 1-D bicubic resampling (half-pixel centres, clamped edges)."""
    def cubic(x):
        x = abs(x)
        if x <= 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        return (((x - 5) * x + 8) * x - 4) * a if x < 2 else 0.0

    matrix = np.zeros((new_size, size))
    for row in range(new_size):
        source = (row + 0.5) * size / new_size - 0.5
        start = int(np.floor(source))
        for tap in range(start - 1, start + 3):
            matrix[row, min(max(tap, 0), size - 1)] += cubic(source - tap)
    return matrix
