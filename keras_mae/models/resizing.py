"""A model for another image size with the same weights: only the position tables depend on
the patch grid. A fixed sin-cos table (pretraining's, encoder and decoder) is built anew for the
new grid, as the model would hold had it been built at that size; a learnt one (fine-tuning's)
is resized bicubically, the cls row kept, as the reference's
`util/pos_embed.interpolate_pos_embed`."""

import numpy as np

from keras_mae.layers.patching import check_patch_grid, image_size_pair
from keras_mae.layers.position_embedding import resize_position_table, sincos_2d


def at_image_size(model, image_size, regenerate_sincos=True):
    """`model` (a `MaskedAutoencoder`, `ViTClassifier` or `ViTBackbone`) for images of
    `image_size` (an int or (height, width)), its weights copied and its position tables fitted
    to the new grid. `regenerate_sincos=False` resizes fixed sin-cos tables bicubically too, as
    the reference does when it fine-tunes a pretrained encoder at another resolution."""
    image_size = image_size_pair(image_size)
    backbone = getattr(model, "backbone", model)
    if backbone.image_size == image_size:
        return model
    config = model.get_config()
    arguments = config["backbone"]["config"] if "backbone" in config else config
    arguments["image_size"] = image_size
    resized = type(model).from_config(config)
    grid = backbone.grid_size
    new_grid = check_patch_grid(image_size, backbone.patch_size)
    for source, target in zip(model.weights, resized.weights):
        if source.name == "pos_embed":
            target.assign(_table_for_grid(source, grid, new_grid, regenerate_sincos)[None])
        else:
            target.assign(source)
    return resized


def _table_for_grid(weight, grid, new_grid, regenerate_sincos):
    """The position table [1 + rows*cols, D] of `weight` for the patch grid `new_grid`."""
    table = np.asarray(weight.numpy()[0], np.float32)
    sincos = sincos_2d(table.shape[-1], grid, cls_token=True)
    if regenerate_sincos and not weight.trainable and np.allclose(table, sincos, atol=1e-6):
        return sincos_2d(table.shape[-1], new_grid, cls_token=True)
    return resize_position_table(table, grid, new_grid)
