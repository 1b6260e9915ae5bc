"""timm's RandAugment (v0.3.2, `rand_augment_transform`), which the reference fine-tunes with
('rand-m9-mstd0.5-inc1', appendix A.2): stateless, on one image inside a `tf.data` map.

Each op reproduces its PIL counterpart on uint8 images, rounding and truncating where PIL does,
so the colour and histogram ops give PIL's pixels. One known deviation: the geometric ops
(Rotate, Shear*, Translate*Rel) interpolate bilinearly, because TensorFlow's
`ImageProjectiveTransformV3` has no bicubic mode, where timm, built with
interpolation='bicubic' as the reference builds it, resamples bicubically. Their sampling
positions, edge handling and fill colour are PIL's.
"""

import dataclasses
import functools
import re
from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from keras_mae.errors import InputError

REFERENCE_POLICY = "rand-m9-mstd0.5-inc1"
_MAX_LEVEL = 10.0  # timm's _MAX_LEVEL: magnitudes are clipped to [0, 10]
_APPLY_PROBABILITY = 0.5  # timm's AugmentOp(prob=0.5) in rand_augment_ops

_FORM = (
    "expected 'rand' then '-'-separated sections m<int magnitude>, n<int ops per image>, "
    "mstd<float magnitude std>, inc<0 or 1>, e.g. 'rand-m9-mstd0.5-inc1'"
)
_SECTION = re.compile(r"(mstd|inc|m|n|w)(\d+(?:\.\d+)?)")


@dataclasses.dataclass(frozen=True)
class RandAugmentPolicy:
    """A parsed policy: `num_ops` ops drawn with replacement per image, each applied with
    probability 0.5 at a magnitude ~ N(magnitude, magnitude_std) clipped to [0, 10];
    `increasing` selects the ops whose strength grows with the magnitude."""

    magnitude: int = 10
    num_ops: int = 2
    magnitude_std: float = 0.0
    increasing: bool = False

    @property
    def ops(self):
        """The names of the ops to draw from, in timm's order."""
        return _INCREASING_OPS if self.increasing else _DEFAULT_OPS


def parse_policy(text):
    """timm's policy string (e.g. 'rand-m9-mstd0.5-inc1') -> `RandAugmentPolicy`.

    Stricter than timm 0.3.2, which skips sections without digits, lets the first of two mstd
    win, and reads inc0 as increasing (the truth of a non-empty string): those are refused,
    and inc0 means the default ops."""
    where = f"RandAugment policy {text!r}"
    head, *sections = text.split("-")
    if head != "rand":
        raise InputError(f"{where} does not start with 'rand': {_FORM}.")
    values = {}
    for section in sections:
        match = _SECTION.fullmatch(section)
        if not match:
            raise InputError(f"{where} has an unknown section {section!r}: {_FORM}.")
        key, value = match.groups()
        if key == "w":
            raise InputError(f"{where}: weighted op choice ({section!r}) is not supported; drop "
                             "the section to draw the ops uniformly.")
        if key in values:
            raise InputError(f"{where} gives {key!r} twice: {_FORM}.")
        if key != "mstd" and not value.isdigit():
            raise InputError(f"{where}: {section!r} needs an integer: {_FORM}.")
        if key == "inc" and value not in ("0", "1"):
            raise InputError(f"{where}: {section!r} is neither inc0 nor inc1: {_FORM}.")
        values[key] = value
    return RandAugmentPolicy(
        magnitude=int(values.get("m", _MAX_LEVEL)),
        num_ops=int(values.get("n", 2)),
        magnitude_std=float(values.get("mstd", 0.0)),
        increasing=values.get("inc") == "1",
    )


def sample_ops(seed, policy):
    """Every draw for one image, a function of `seed` [2] only: (op index [n] into
    `policy.ops`, applied [n] bool, magnitude [n] float32, sign [n] of +-1.0)."""
    choice_seed, apply_seed, magnitude_seed, sign_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    shape = [policy.num_ops]
    indices = tf.random.stateless_uniform(shape, choice_seed, 0, len(policy.ops), tf.int32)
    applied = tf.random.stateless_uniform(shape, apply_seed) < _APPLY_PROBABILITY
    noise = tf.random.stateless_normal(shape, magnitude_seed)
    magnitudes = tf.clip_by_value(policy.magnitude + policy.magnitude_std * noise, 0.0, _MAX_LEVEL)
    signs = tf.where(tf.random.stateless_uniform(shape, sign_seed) > 0.5, -1.0, 1.0)
    return indices, applied, magnitudes, signs


def rand_augment(image, seed, policy, mean):
    """float32 [H, W, C] in 0..255 + seed [2] -> the image after `policy`'s ops, rounded to
    integers as PIL's uint8 images are. `mean` (0..1, one value or one per channel) gives the
    geometric ops' fill colour as timm's `img_mean` does."""
    shape = image.shape
    if not shape.is_fully_defined() or shape.rank != 3 or shape[-1] not in (1, 3):
        raise InputError(f"RandAugment takes an image of static shape [H, W, 1 or 3], not {shape}.")
    fill = _fill(mean, shape[-1])
    ops = [OPS[name] for name in policy.ops]
    indices, applied, magnitudes, signs = sample_ops(seed, policy)
    result = tf.clip_by_value(tf.round(image), 0.0, 255.0)
    for i in range(policy.num_ops):
        branches = [
            functools.partial(_run, op, result, magnitudes[i], signs[i], fill) for op in ops
        ] + [functools.partial(tf.identity, result)]
        result = tf.switch_case(tf.where(applied[i], indices[i], len(ops)), branches)
    return tf.ensure_shape(result, shape)


def _run(op, image, magnitude, sign, fill):
    return op.apply(image, op.level(magnitude, sign), fill)


def _fill(mean, channels):
    """timm's `img_mean`: min(255, round(255 * mean)) per channel, as float32 [C]."""
    fill = [min(255, round(255 * float(m))) for m in mean]
    if len(fill) == 1:
        fill = fill * channels
    if len(fill) != channels:
        raise InputError(f"RandAugment got {len(fill)} mean values for {channels}-channel images.")
    return tf.constant(fill, tf.float32)


# Level functions: (magnitude, sign) -> the op's argument, in float64 and in timm's order of
# operations, so that e.g. int(0.9 * 110) is 99 as in Python.

def _fraction(magnitude):
    return tf.cast(magnitude, tf.float64) / _MAX_LEVEL


def _no_argument(magnitude, sign):
    return tf.constant(0.0, tf.float64)


def _signed(scale):
    return lambda magnitude, sign: tf.cast(sign, tf.float64) * (_fraction(magnitude) * scale)


def _truncated(scale):
    return lambda magnitude, sign: tf.floor(_fraction(magnitude) * scale)


def _truncated_from(top, scale):
    return lambda magnitude, sign: top - tf.floor(_fraction(magnitude) * scale)


def _enhance_level(magnitude, sign):
    return _fraction(magnitude) * 1.8 + 0.1


def _enhance_increasing_level(magnitude, sign):
    return 1.0 + tf.cast(sign, tf.float64) * (_fraction(magnitude) * 0.9)


# Ops: (image float32 [H, W, C] of integers in 0..255, argument, fill [C]) -> image, as PIL.

def _auto_contrast(image, _, fill):
    """ImageOps.autocontrast(cutoff=0): each channel stretched to 0..255 (float64 as PIL)."""
    low = tf.cast(tf.reduce_min(image, axis=[0, 1]), tf.float64)
    high = tf.cast(tf.reduce_max(image, axis=[0, 1]), tf.float64)
    scale = 255.0 / tf.maximum(high - low, 1.0)
    stretched = tf.floor(tf.cast(image, tf.float64) * scale - low * scale)
    return tf.where(high > low, tf.cast(tf.clip_by_value(stretched, 0, 255), tf.float32), image)


def _equalize(image, _, fill):
    """ImageOps.equalize: per channel, lut[i] = (step // 2 + pixels below i) // step with
    step = (pixels - pixels at the top value) // 255; unchanged where step is 0."""
    channels = image.shape[-1]
    values = tf.cast(image, tf.int32) + 256 * tf.range(channels)  # a bin per (channel, value)
    bins = 256 * channels
    counts = tf.math.bincount(values, minlength=bins, maxlength=bins)
    histogram = tf.reshape(counts, [channels, 256])
    top = tf.cast(tf.reduce_max(image, axis=[0, 1]), tf.int32)
    step = (tf.reduce_sum(histogram, axis=1) - tf.gather(histogram, top, batch_dims=1)) // 255
    below = tf.cumsum(histogram, axis=1, exclusive=True)
    lut = tf.minimum((step[:, None] // 2 + below) // tf.maximum(step[:, None], 1), 255)
    equalized = tf.cast(tf.gather(tf.reshape(lut, [-1]), values), tf.float32)
    return tf.where(step > 0, equalized, image)


def _invert(image, _, fill):
    return 255.0 - image


def _posterize(image, bits, fill):
    """ImageOps.posterize: keep the top `bits` bits (0 bits: black, as Pillow 8, of timm
    0.3.2's time, gives; later Pillows refuse 0 bits)."""
    quantum = tf.cast(2.0 ** (8.0 - bits), tf.float32)
    return tf.floor(image / quantum) * quantum


def _solarize(image, threshold, fill):
    return tf.where(image < tf.cast(threshold, tf.float32), image, 255.0 - image)


def _solarize_add(image, addition, fill):
    """timm's solarize_add: add `addition` (capped at 255) to the values below 128."""
    return tf.where(image < 128.0, tf.minimum(image + tf.cast(addition, tf.float32), 255.0), image)


def _blend(degenerate, image, factor):
    """Image.blend(degenerate, image, factor): float32 arithmetic, clipped, truncated."""
    factor = tf.cast(factor, tf.float32)
    return tf.floor(tf.clip_by_value(degenerate + factor * (image - degenerate), 0.0, 255.0))


def _grey(image):
    """convert('L') of an RGB image: ITU-R 601-2 luma in PIL's 16-bit fixed point, [H, W, 1]."""
    weighted = tf.cast(image, tf.int32) * tf.constant([19595, 38470, 7471])
    return tf.cast((tf.reduce_sum(weighted, axis=-1, keepdims=True) + 0x8000) // 65536, tf.float32)


def _color(image, factor, fill):
    """ImageEnhance.Color: blend with the grey image; a grey image is its own grey image."""
    if image.shape[-1] == 1:
        return image
    return _blend(tf.broadcast_to(_grey(image), tf.shape(image)), image, factor)


def _contrast(image, factor, fill):
    """ImageEnhance.Contrast: blend with the rounded mean of the grey image."""
    grey = tf.cast(_grey(image) if image.shape[-1] == 3 else image, tf.int64)
    count = tf.cast(tf.size(grey), tf.int64)
    mean = (2 * tf.reduce_sum(grey) + count) // (2 * count)  # int(mean + 0.5)
    return _blend(tf.cast(mean, tf.float32), image, factor)


def _brightness(image, factor, fill):
    return _blend(0.0, image, factor)


def _sharpness(image, factor, fill):
    """ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH ([[1,1,1],[1,5,1],[1,1,1]] / 13,
    rounded), which leaves the border pixels unchanged."""
    height, width, channels = image.shape
    if height < 3 or width < 3:
        return image
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]])[:, :, None, None]
    sums = tf.nn.depthwise_conv2d(image[None], tf.tile(kernel, [1, 1, channels, 1]), [1, 1, 1, 1],
                                  "VALID")[0]
    smooth = tf.pad(tf.floor(sums / 13.0 + 0.5), [[1, 1], [1, 1], [0, 0]])
    interior = np.zeros([height, width, 1], bool)
    interior[1:-1, 1:-1] = True
    return _blend(tf.where(interior, smooth, image), image, factor)


def _affine(image, matrix, fill):
    """Image.transform(AFFINE, matrix, BILINEAR, fillcolor=fill): output pixel (x, y) samples
    the input at matrix . (x + 0.5, y + 0.5, 1), in coordinates where pixels span [i, i + 1);
    points outside [0, W) x [0, H) take `fill`, points inside interpolate between clamped
    neighbours, and the result is truncated to an integer."""
    height, width, _ = image.shape
    a, b, c, d, e, f = matrix
    # TensorFlow puts pixel centres at integers: half a pixel on either side of the mapping.
    centred = tf.cast(tf.stack([a, b, c + 0.5 * (a + b) - 0.5, d, e, f + 0.5 * (d + e) - 0.5,
                                0.0, 0.0]), tf.float32)
    sampled = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=centred[None], output_shape=[height, width],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")[0]
    ys, xs = np.mgrid[:height, :width] + 0.5
    x_in, y_in = a * xs + b * ys + c, d * xs + e * ys + f
    inside = (x_in >= 0) & (x_in < width) & (y_in >= 0) & (y_in < height)
    # 1e-3 absorbs float32 error (~3e-5 at 255) where PIL's double result is an exact integer.
    return tf.where(inside[..., None], tf.floor(sampled + 1e-3), fill)


def _rotate(image, degrees, fill):
    """Image.rotate(degrees, BILINEAR, fillcolor=fill): counter-clockwise about the centre."""
    height, width, _ = image.shape
    angle = -tf.math.floormod(degrees, 360.0) * (np.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    centre_x, centre_y = width / 2.0, height / 2.0
    matrix = (cos, sin, -cos * centre_x - sin * centre_y + centre_x,
              -sin, cos, sin * centre_x - cos * centre_y + centre_y)
    return _affine(image, matrix, fill)


def _shear_x(image, factor, fill):
    return _affine(image, (1.0, factor, 0.0, 0.0, 1.0, 0.0), fill)


def _shear_y(image, factor, fill):
    return _affine(image, (1.0, 0.0, 0.0, factor, 1.0, 0.0), fill)


def _translate_x_rel(image, fraction, fill):
    return _affine(image, (1.0, 0.0, fraction * image.shape[1], 0.0, 1.0, 0.0), fill)


def _translate_y_rel(image, fraction, fill):
    return _affine(image, (1.0, 0.0, 0.0, 0.0, 1.0, fraction * image.shape[0]), fill)


class Op(NamedTuple):
    """An op split as timm splits it: `level(magnitude, sign)` -> its float64 argument, and
    `apply(image, argument, fill)` -> the new image."""

    level: Callable
    apply: Callable


OPS = {
    "AutoContrast": Op(_no_argument, _auto_contrast),
    "Equalize": Op(_no_argument, _equalize),
    "Invert": Op(_no_argument, _invert),
    "Rotate": Op(_signed(30.0), _rotate),
    "Posterize": Op(_truncated(4.0), _posterize),
    "PosterizeIncreasing": Op(_truncated_from(4.0, 4.0), _posterize),
    "Solarize": Op(_truncated(256.0), _solarize),
    "SolarizeIncreasing": Op(_truncated_from(256.0, 256.0), _solarize),
    "SolarizeAdd": Op(_truncated(110.0), _solarize_add),
    "Color": Op(_enhance_level, _color),
    "ColorIncreasing": Op(_enhance_increasing_level, _color),
    "Contrast": Op(_enhance_level, _contrast),
    "ContrastIncreasing": Op(_enhance_increasing_level, _contrast),
    "Brightness": Op(_enhance_level, _brightness),
    "BrightnessIncreasing": Op(_enhance_increasing_level, _brightness),
    "Sharpness": Op(_enhance_level, _sharpness),
    "SharpnessIncreasing": Op(_enhance_increasing_level, _sharpness),
    "ShearX": Op(_signed(0.3), _shear_x),
    "ShearY": Op(_signed(0.3), _shear_y),
    "TranslateXRel": Op(_signed(0.45), _translate_x_rel),
    "TranslateYRel": Op(_signed(0.45), _translate_y_rel),
}

_DEFAULT_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
    "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel",
    "TranslateYRel",
)
_INCREASING_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing",
    "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
    "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
)
