"""`.keras` files written atomically: a kill while writing leaves the previous file, never half
of a new one under the final name."""

import os
import pathlib

import keras


def save_atomically(model, path):
    """`model.save(path)` through a hidden temporary file in the same folder, renamed into place
    (a rename within a file system is atomic). A failed save removes its temporary file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the model with its optimizer state as `<folder>/epoch_NNN.keras` after each epoch,
    atomically, keeping the newest `keep` of them (0 = all)."""

    def __init__(self, folder, keep=0):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        save_atomically(self.model, self.folder / f"epoch_{epoch + 1:03d}.keras")
        if self.keep:
            saved = sorted(self.folder.glob("epoch_*.keras"), key=_epoch_number)
            for old in saved[: -self.keep]:
                old.unlink()


def _epoch_number(path):
    """epoch_1000.keras -> 1000 (file names sort epoch 1000 before 999)."""
    return int(path.stem.removeprefix("epoch_"))
