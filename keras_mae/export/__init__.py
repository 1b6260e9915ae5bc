"""Export a model as a TensorFlow SavedModel for serving, with the preprocessing inside.

Clients send images as they have them: channels-last [B, H, W, C] with values 0..255, any batch
size. The signatures take float32 `images` (TF Serving converts JSON numbers); from Python the
loaded functions take uint8 too. Signatures:
- `serving_default`: images -> {"cls_token", "pooled"} encoder features [B, D], and for a
  classifier {"probabilities"} [B, classes] too;
- `reconstruct`: images, seed -> {"masked", "reconstruction", "pasted"} [B, H, W, C] in 0..255
  and "mask" [B, L] (1 = removed); `reconstruct_with_noise`: images, noise [B, L] -> the same;
- `classify` (classifiers): images -> {"probabilities"} [B, classes].

    python -m keras_mae.export --checkpoint runs/quickstart/model.keras \
        --output runs/quickstart/saved_model

(the command line is `keras_mae/export/__main__.py`).
"""

import keras
import tensorflow as tf

from keras_mae.data.normalization import PixelNormalization
from keras_mae.errors import InputError
from keras_mae.models import ViTClassifier


def masking_noise(seed, batch_size, num_patches):
    """The masking noise that the `reconstruct` signature draws for an integer `seed`.

    Args:
        seed: an int (or int tensor); equal seeds give equal masks.
        batch_size: B.
        num_patches: L, the model's patches per image.

    Returns:
        [B, L] float32 noise in [0, 1), as `reconstruct_with_noise` takes it.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_uniform((batch_size, num_patches), seed=seed, alg="philox")


class _Pixels(PixelNormalization):
    """The model's normalisation, with the shape check a client can act on."""

    def __init__(self, model, mean, std):
        if len(mean) not in (1, model.num_channels) or len(std) != len(mean):
            raise InputError(
                f"mean {tuple(mean)} and std {tuple(std)} must give one value, or one per "
                f"channel of the model ({model.num_channels})."
            )
        super().__init__(mean, std)
        self.shape = (*model.image_size, model.num_channels)

    def normalize(self, images):
        """Checks the shape with a message a client can act on, then normalises."""
        height, width, channels = self.shape
        check = tf.debugging.Assert(
            tf.reduce_all(tf.equal(tf.shape(images)[1:], self.shape)),
            [f"images must be [batch, {height}, {width}, {channels}] (channels-last, values "
             "0..255): resize or convert them first. Got shape", tf.shape(images)],
            summarize=4,
        )
        with tf.control_dependencies([check]):
            images = tf.ensure_shape(tf.cast(images, tf.float32), (None, *self.shape))
        return super().normalize(images)


def _endpoints(model, pixels):
    """{name: (function, specs of its arguments after `images`)} for `model`."""

    def features(images):
        return {k: tf.cast(v, tf.float32) for k, v in model.features(pixels.normalize(images)).items()}

    if isinstance(model, ViTClassifier):
        def predict(images):
            found = model.features(pixels.normalize(images))
            logits = tf.cast(model.logits(found["pooled"]), tf.float32)
            return {**{k: tf.cast(v, tf.float32) for k, v in found.items()},
                    "probabilities": tf.nn.softmax(logits)}

        def classify(images):
            return {"probabilities": predict(images)["probabilities"]}

        return {"serving_default": (predict, []), "classify": (classify, [])}

    def reconstruct_with_noise(images, noise):
        outputs = model.reconstruct(pixels.normalize(images), noise=noise)
        pictures = {k: pixels.to_pixels(outputs[k]) for k in ("masked", "reconstruction", "pasted")}
        return {**pictures, "mask": outputs["mask"]}

    def reconstruct(images, seed):
        return reconstruct_with_noise(images, masking_noise(seed, tf.shape(images)[0], model.num_patches))

    noise_spec = tf.TensorSpec([None, model.num_patches], tf.float32, name="noise")
    return {
        "serving_default": (features, []),
        "reconstruct": (reconstruct, [tf.TensorSpec([], tf.int64, name="seed")]),
        "reconstruct_with_noise": (reconstruct_with_noise, [noise_spec]),
    }


def export_saved_model(model, path, mean, std):
    """Write `model` as a SavedModel at `path`, the normalisation inside.

    The signatures take images as clients have them (see the module's docstring): float32
    `images` [B, H, W, C] in 0..255 at the model's image size (uint8 too, from Python).

    Args:
        model: a `MaskedAutoencoder` (signatures serving_default, reconstruct,
            reconstruct_with_noise) or a `ViTClassifier` (serving_default: features and
            probabilities; classify: probabilities).
        path: the folder to write (a str or path; any `tf.io.gfile` location).
        mean: the per-channel data mean (0..1) the model was trained with: one value, or one
            per channel.
        std: the per-channel standard deviation (0..1), as many values as `mean`.

    Raises:
        InputError: `mean` and `std` do not match each other or the model's channels.
    """
    pixels = _Pixels(model, mean, std)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, specs) in _endpoints(model, pixels).items():
        traced = tf.function(function, autograph=False)
        for dtype in (tf.float32, tf.uint8):  # the first trace becomes the signature
            traced.get_concrete_function(tf.TensorSpec([None] * 4, dtype, name="images"), *specs)
        archive.add_endpoint(name, traced)
    archive.write_out(str(path), verbose=False)
