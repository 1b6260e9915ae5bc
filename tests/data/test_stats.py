"""`python -m keras_mae.data.stats`: a folder's per-channel mean and std, against NumPy's over the
same pixels, printed as config lines that ml_collections reads back."""

import pathlib
import shlex
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from ml_collections import config_flags
from PIL import Image

from keras_mae.data.stats import ProgressLines, config_lines, folder_stats
from keras_mae.errors import InputError

REPO = pathlib.Path(__file__).resolve().parents[2]


def numpy_stats(images):
    """Per-channel mean and std in 0..1 over every pixel of `images` (arrays [H, W, C])."""
    pixels = np.concatenate([image.reshape(-1, image.shape[-1]) for image in images]) / 255
    return pixels.mean(0), pixels.std(0)


def test_real_jpegs_match_numpy_over_every_pixel(small_cifar_folder):
    folder = small_cifar_folder / "test"
    files = sorted(folder.glob("*/*.jpg"))
    count, mean, std = folder_stats(folder, 3)
    # TensorFlow's decoder, as training's (PIL's differs from it by ~1 level per pixel)
    expected_mean, expected_std = numpy_stats(
        [tf.io.decode_jpeg(f.read_bytes()).numpy() for f in files])
    assert count == len(files) == 100
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std, expected_std, rtol=1e-12)


def test_every_pixel_counts_once_in_images_of_any_size_grey_or_colour(tmp_path):
    rng = np.random.default_rng(0)
    colour = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((5, 7), (40, 3))]
    grey = rng.integers(200, 256, (9, 9), dtype=np.uint8)  # unlike the others: weighs in
    (tmp_path / "mixed").mkdir(), (tmp_path / "grey").mkdir()
    for index, image in enumerate([*colour, grey]):
        Image.fromarray(image).save(tmp_path / "mixed" / f"{index}.png")
    Image.fromarray(grey).save(tmp_path / "grey" / "grey.png")
    _, mean, std = folder_stats(tmp_path / "mixed", 3)
    expected_mean, expected_std = numpy_stats([*colour, np.repeat(grey[..., None], 3, -1)])
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std, expected_std, rtol=1e-12)
    _, grey_mean, grey_std = folder_stats(tmp_path / "grey", 1)
    np.testing.assert_allclose((grey_mean, grey_std), numpy_stats([grey[..., None]]), rtol=1e-12)


def test_progress_is_reported_up_to_every_image(small_cifar_folder, capsys):
    seen = []
    folder_stats(small_cifar_folder / "test", 1, lambda done, total: seen.append((done, total)))
    assert seen[-1] == (100, 100) and seen == sorted(seen)
    ProgressLines(seconds=0)(50, 100)
    assert "50 of 100 images read" in capsys.readouterr().err


@pytest.mark.parametrize("channels", [1, 3])
def test_the_printed_overrides_set_the_config(channels):
    mean, std = (0.123456, 0.5, 0.25)[:channels], (0.2, 0.3, 0.4)[:channels]
    overrides = shlex.split(config_lines(channels, mean, std).splitlines()[0])
    config_file = str(REPO / "configs" / "own_images.py")
    argv = ["train.py", f"--config={config_file}", *overrides]
    parser = flags.FlagValues()
    config_flags.DEFINE_config_file("config", config_file, flag_values=parser, sys_argv=argv)
    parser(argv)
    data = parser.config.data
    assert data.num_channels == channels
    assert tuple(data.mean) == tuple(round(m, 4) for m in mean) and tuple(data.std) == std


def test_bad_folders_are_refused_in_one_line(small_cifar_folder, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No images"):
        folder_stats(tmp_path / "empty", 3)
    for jpeg in sorted((small_cifar_folder / "test" / "cat").glob("*.jpg"))[:4]:
        (tmp_path / jpeg.name).write_bytes(jpeg.read_bytes())
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"^1 image file\(s\) cannot be decoded: .*broken\.jpg"):
        folder_stats(tmp_path, 3)


def test_the_command_line_prints_the_lines_to_paste(small_cifar_folder):
    folder = small_cifar_folder / "test"
    result = subprocess.run([sys.executable, "-m", "keras_mae.data.stats", str(folder)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    _, mean, std = folder_stats(folder, 3)
    assert config_lines(3, mean, std) in result.stdout
    assert result.stdout.startswith("# 100 images of ")
