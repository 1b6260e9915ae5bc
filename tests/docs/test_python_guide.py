"""docs/python.md's `train.py` recipe in Python does what the page says: norm-pix targets, and
an lr that warms up linearly to base_lr x batch / 256 and decays along a cosine to 0."""

import pathlib
import re

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
RECIPE_LINE = "batch_size, epochs, warmup_epochs = 256, 800, 40"


def recipe_block():
    text = (REPO / "docs" / "python.md").read_text()
    return next(block for block in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
                if "warmup_cosine" in block)


def test_the_recipe_in_python_matches_train_py():
    from keras_mae.training.config import default_config

    block = recipe_block()
    assert RECIPE_LINE in block and "model.fit(" in block.splitlines()[-1]
    namespace = {"images": np.zeros((64, 32, 32, 3), np.float32)}
    small = block.replace(RECIPE_LINE, "batch_size, epochs, warmup_epochs = 16, 10, 2")
    exec(small.rsplit("model.fit(", 1)[0], namespace)  # everything but the training itself

    config = default_config()
    model, optimizer = namespace["model"], namespace["model"].optimizer
    assert model.norm_pix_loss == config.model.norm_pix_loss is True
    assert config.optim.base_lr == 1.5e-4 and config.optim.warmup_epochs == 40
    peak, steps, warmup = 1.5e-4 * 16 / 256, 10 * 4, 2 * 4

    def lr(step):
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    np.testing.assert_allclose([lr(0), lr(warmup // 2), lr(warmup)], [0, peak / 2, peak],
                               rtol=1e-6, atol=1e-12)
    middle = warmup + (steps - warmup) // 2
    np.testing.assert_allclose([lr(middle), lr(steps)], [peak / 2, 0], rtol=1e-6, atol=1e-12)
