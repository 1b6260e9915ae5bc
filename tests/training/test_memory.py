"""Freed heap memory goes back to the OS, and fit trims only while its first step compiles."""

import threading

import keras
import numpy as np
import pytest

from keras_mae import MaskedAutoencoder
from keras_mae.training.callbacks import freed_memory
from keras_mae.training.callbacks.freed_memory import ReleaseFreedMemoryWhileCompiling, release_freed_memory

from conftest import make_mae

# Returning freed heap memory is glibc's malloc_trim; where the C library has none (macOS, musl)
# the callbacks do nothing, by design, and there is nothing to measure.
pytestmark = pytest.mark.skipif(freed_memory._MALLOC_TRIM is None,
                                reason="the C library has no malloc_trim (not glibc)")


def resident_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def test_release_freed_memory_returns_a_fragmented_heap():
    # 64 KiB blocks come from malloc's heap (below its mmap threshold); keeping every 16th one
    # leaves the freed 15 unreturnable by the heap's usual top-of-heap trimming.
    blocks = [np.ones(16 * 1024, np.float32) for _ in range(4096)]  # 256 MiB
    kept = blocks[::16]
    del blocks
    before = resident_mib()
    assert release_freed_memory()
    assert before - resident_mib() > 100, "malloc_trim handed back less than 100 of ~240 MiB"
    assert all(block[0] == 1 for block in kept)


class ThreadProbe(keras.callbacks.Callback):
    """Whether the trimming thread runs at the start of each batch."""

    def __init__(self):
        super().__init__()
        self.trimming = []

    def on_train_batch_begin(self, batch, logs=None):
        self.trimming.append(any(t.name == "release-freed-memory" for t in threading.enumerate()))


def test_fit_trims_while_the_first_step_compiles_and_then_stops(tiny_config):
    model = make_mae(**tiny_config)
    model.compile(optimizer="adam")
    images = np.zeros((6, *model.image_size, model.num_channels), np.float32)
    probe = ThreadProbe()
    model.fit(images, batch_size=2, epochs=1, verbose=0,
              callbacks=[ReleaseFreedMemoryWhileCompiling(), probe])
    assert probe.trimming == [True, False, False]
    assert not any(t.name == "release-freed-memory" for t in threading.enumerate())
