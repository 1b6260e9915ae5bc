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
    """The figure's four panels of each image, in pixel space.

    Args:
        model: a `MaskedAutoencoder`.
        images: [B, H, W, C] images normalised with `data_mean` and `data_std`.
        data_mean: the per-channel data mean (0..1) the images were normalised with.
        data_std: the per-channel standard deviation (0..1).
        noise: [B, L] masking noise (see `MaskedAutoencoder.sample_noise`); None draws masks.

    Returns:
        A dict of float32 NumPy arrays [B, H, W, C] in 0..1: "original", "masked",
        "reconstruction" and "pasted" (the reconstruction with the input's visible patches).
    """
    panels = {"original": ops.convert_to_tensor(images, "float32")}
    panels.update(model.reconstruct(panels["original"], noise=noise))
    del panels["mask"]
    pixels = PixelNormalization(data_mean, data_std)
    return {
        name: np.clip(ops.convert_to_numpy(pixels.to_pixels(panel)) / 255.0, 0, 1)
        for name, panel in panels.items()
    }


def make_grid(panels, scale=1, gap=2):
    """The panels as one image: a row per image, a column per panel, on white.

    Args:
        panels: the dict `reconstruction_panels` returns, arrays [B, H, W, C] in 0..1 (C is 1
            or 3; grey is shown as grey RGB).
        scale: each pixel repeated `scale` x `scale` times.
        gap: white pixels between cells.

    Returns:
        A uint8 NumPy image [B*(s*H+gap)-gap, 4*(s*W+gap)-gap, 3], s = `scale`.
    """
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
    """`grid` under a white band naming its columns, as the paper's figure does.

    Args:
        grid: a uint8 image [H, W, 3], as `make_grid` returns it.
        cell_width: the width in pixels of one column's cells.
        gap: the pixels between columns.
        titles: one title per column.

    Returns:
        A uint8 NumPy image [TITLE_HEIGHT + H, W, 3].
    """
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
    """Write a uint8 image [H, W, C] (C = 1, 3 or 4) as a PNG file at `path` (a str or path;
    any `tf.io.gfile` location)."""
    tf.io.write_file(str(path), tf.io.encode_png(image))


def reconstruction_figure(model, images, mean, std, noise=None, min_size=96):
    """The paper's figure 2 for `images`, as `python -m keras_mae.visualize` draws it.

    Args:
        model: a `MaskedAutoencoder`.
        images: [B, H, W, C] images normalised with `mean` and `std`.
        mean: the per-channel data mean (0..1).
        std: the per-channel data standard deviation (0..1).
        noise: [B, L] masking noise; None draws masks.
        min_size: cells are enlarged by a whole factor to at least this many pixels.

    Returns:
        A uint8 NumPy image [height, width, 3]: a row per image, four titled columns.
    """
    panels = reconstruction_panels(model, images, mean, std, noise)
    scale = max(1, -(-min_size // max(model.image_size)))
    return with_column_titles(make_grid(panels, scale=scale), scale * model.image_size[1])


def load_images(paths, image_size, num_channels, limit):
    """Images from files and folders, as the command line reads them.

    Args:
        paths: image files (JPEG, PNG, BMP, GIF) and folders of them (or of class folders).
        image_size: (height, width) to resize to (bicubic; the aspect ratio is not kept).
        num_channels: channels to decode to (grey and RGB convert).
        limit: the most images to read.

    Returns:
        A uint8 NumPy array [N, H, W, C] in 0..255, N <= `limit`.

    Raises:
        InputError: a path does not exist, or a file cannot be decoded.
    """
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
