"""The paper's figure 2: original | masked input | reconstruction | reconstruction + visible.

Everything is returned in pixel space (0..1): the data normalisation is undone, and with
norm_pix_loss the predicted patches are given back each true patch's mean and variance,
as the reference's demo does.
"""

import numpy as np
import tensorflow as tf
from keras import ops


def reconstruction_panels(model, images, data_mean, data_std, noise=None):
    """Normalised images [B, H, W, C] -> four arrays [B, H, W, C] in 0..1:
    `original`, `masked`, `reconstruction`, `pasted` (visible patches are the input's)."""
    panels = {"original": ops.convert_to_tensor(images, "float32")}
    panels.update(model.reconstruct(panels["original"], noise=noise))
    del panels["mask"]
    data_mean = np.asarray(data_mean, np.float32)
    data_std = np.asarray(data_std, np.float32)
    return {
        name: np.clip(ops.convert_to_numpy(panel) * data_std + data_mean, 0, 1)
        for name, panel in panels.items()
    }


def make_grid(panels, scale=1, gap=2):
    """Panels -> one uint8 image [B*(s*H+gap)-gap, 4*(s*W+gap)-gap, 3]: a row per image."""
    columns = [panels[k] for k in ("original", "masked", "reconstruction", "pasted")]
    batch, height, width, channels = columns[0].shape
    cell_h, cell_w = scale * height, scale * width
    grid = np.ones((batch * (cell_h + gap) - gap, 4 * (cell_w + gap) - gap, 3), np.float32)
    for row in range(batch):
        for col, panel in enumerate(columns):
            cell = np.repeat(np.repeat(panel[row], scale, axis=0), scale, axis=1)
            top, left = row * (cell_h + gap), col * (cell_w + gap)
            grid[top:top + cell_h, left:left + cell_w] = cell if channels == 3 else cell[..., :1]
    return np.round(grid * 255).astype(np.uint8)


def save_png(image, path):
    """Write a uint8 [H, W, C] image as PNG."""
    tf.io.write_file(str(path), tf.io.encode_png(image))


def save_reconstruction_figure(model, images, mean, std, path, noise=None, min_size=96):
    """Draw the figure for normalised `images` and save it as a PNG at `path`; return the grid."""
    panels = reconstruction_panels(model, images, mean, std, noise)
    scale = max(1, -(-min_size // max(model.image_size)))
    grid = make_grid(panels, scale=scale)
    save_png(grid, path)
    return grid
