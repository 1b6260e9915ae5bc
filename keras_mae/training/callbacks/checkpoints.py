"""`.keras` files written atomically, on a local disk or in a bucket: a kill while writing
leaves the previous file, never half of a new one under the final name."""

import os

import keras

from keras_mae import storage


def save_atomically(model, path):
    """`model.save(path)` through a hidden temporary file in the same folder, moved into place
    (`storage.replace`: a rename on a local disk, a whole-object copy in a bucket). A failed
    save removes its temporary file."""
    folder, name = os.path.split(storage.normalize(path))
    storage.makedirs(folder)
    temporary = storage.join(folder, f".{name.removesuffix('.keras')}.partial.keras")
    try:
        model.save(temporary)
        storage.replace(temporary, storage.join(folder, name))
    finally:
        storage.remove(temporary)


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the model with its optimizer state as `<folder>/epoch_NNN.keras` after each epoch,
    atomically, keeping the newest `keep` of them (0 = all)."""

    def __init__(self, folder, keep=0):
        super().__init__()
        self.folder = storage.normalize(folder)
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        save_atomically(self.model, storage.join(self.folder, f"epoch_{epoch + 1:03d}.keras"))
        if self.keep:
            saved = sorted((name for name in storage.listdir(self.folder)
                            if name.startswith("epoch_") and name.endswith(".keras")),
                           key=_epoch_number)
            for old in saved[: -self.keep]:
                storage.remove(storage.join(self.folder, old))


def _epoch_number(name):
    """epoch_1000.keras -> 1000 (file names sort epoch 1000 before 999)."""
    return int(name.removeprefix("epoch_").removesuffix(".keras"))
