"""The paper's figure 2: original | masked input | reconstruction | reconstruction + visible.

Everything is returned in pixel space (0..1): the data normalisation is undone, and with
norm_pix_loss the predicted patches are given back each true patch's mean and variance,
as the reference's demo does.

    python -m keras_mae.visualize --checkpoint runs/cifar10/model.keras \
        --images photos/,cat.jpg --output reconstructions.png

(the command line is `keras_mae/visualize/__main__.py`).
"""

import pathlib

import numpy as np
import tensorflow as tf
from keras import ops

from keras_mae.data import from_folder
from keras_mae.data.augment import resize
from keras_mae.data.normalization import PixelNormalization
from keras_mae.data.sources import decode_file
from keras_mae.errors import InputError


def reconstruction_panels(model, images, data_mean, data_std, noise=None):
    """Normalised images [B, H, W, C] -> four arrays [B, H, W, C] in 0..1:
    `original`, `masked`, `reconstruction`, `pasted` (visible patches are the input's)."""
    panels = {"original": ops.convert_to_tensor(images, "float32")}
    panels.update(model.reconstruct(panels["original"], noise=noise))
    del panels["mask"]
    pixels = PixelNormalization(data_mean, data_std)
    return {
        name: np.clip(ops.convert_to_numpy(pixels.to_pixels(panel)) / 255.0, 0, 1)
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


COLUMN_TITLES = ("original", "masked", "reconstruction", "reconstruction\n+ visible")
TITLE_HEIGHT = 32  # pixels above the grid: two lines of Pillow's default font


def with_column_titles(grid, cell_width, gap=2, titles=COLUMN_TITLES):
    """`grid` under a white band naming its columns, as the paper's figure does."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow comes with TensorBoard

    font = ImageFont.load_default()
    band = Image.new("RGB", (grid.shape[1], TITLE_HEIGHT), "white")
    draw = ImageDraw.Draw(band)
    for column, title in enumerate(titles):
        left, _, right, _ = draw.multiline_textbbox((0, 0), title, font=font, align="center")
        x = column * (cell_width + gap) + (cell_width - (right - left)) / 2
        draw.multiline_text((x, 3), title, fill="black", font=font, align="center")
    return np.concatenate([np.asarray(band, np.uint8), grid], axis=0)


def save_png(image, path):
    """Write a uint8 [H, W, C] image as PNG."""
    tf.io.write_file(str(path), tf.io.encode_png(image))


def reconstruction_figure(model, images, mean, std, noise=None, min_size=96):
    """The figure for normalised `images` as a uint8 grid under its column titles, cells
    enlarged to >= `min_size` px."""
    panels = reconstruction_panels(model, images, mean, std, noise)
    scale = max(1, -(-min_size // max(model.image_size)))
    return with_column_titles(make_grid(panels, scale=scale), scale * model.image_size[1])


def load_images(paths, image_size, num_channels, limit):
    """Up to `limit` images from files and folders, resized to `image_size`: uint8 [N, H, W, C]."""
    images = []
    for path in paths:
        if not pathlib.Path(path).exists():
            raise InputError(f"Image path {path!r} does not exist.")
        try:
            if pathlib.Path(path).is_dir():
                source = from_folder(path, num_channels)
                images += [image for image, _ in source.dataset.take(limit - len(images))]
            else:
                images.append(decode_file(str(path), num_channels))
        except tf.errors.OpError:
            raise InputError(f"Cannot decode an image in {path} (JPEG, PNG, BMP or GIF: "
                             "remove or replace the file).") from None
        if len(images) >= limit:
            break
    resized = [resize(image, image_size) for image in images[:limit]]
    return np.round(np.stack(resized)).astype(np.uint8)
