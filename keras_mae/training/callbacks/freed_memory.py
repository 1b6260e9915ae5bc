"""Give the heap that XLA's compiler frees back to the OS while the first step compiles.

glibc keeps freed heap memory for reuse instead of returning it, so the hundreds of MiB that the
compiler allocates and frees again stays resident through the first step and counts in its
peak. `malloc_trim` returns it (Dask's workers trim memory for the same reason).
"""

import contextlib
import ctypes
import ctypes.util
import threading

import keras


def _malloc_trim():
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory():
    """Return freed heap memory to the OS now: True if the C library could."""
    return bool(_MALLOC_TRIM and _MALLOC_TRIM(0))


@contextlib.contextmanager
def releasing_freed_memory(interval_s=0.1):
    """Return freed heap memory to the OS every `interval_s` seconds while the block runs."""
    if not _MALLOC_TRIM:
        yield
        return
    done = threading.Event()

    def trim_until_done():
        while not done.wait(interval_s):
            release_freed_memory()

    thread = threading.Thread(target=trim_until_done, name="release-freed-memory", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        release_freed_memory()


class ReleaseFreedMemoryWhileCompiling(keras.callbacks.Callback):
    """`releasing_freed_memory` from the start of `fit` to the end of its first step, which
    compiles the training step: lowers the peak resident memory of a run."""

    def __init__(self, interval_s=0.1):
        super().__init__()
        self.interval_s = interval_s
        self._releasing = contextlib.ExitStack()

    def on_train_begin(self, logs=None):
        self._releasing.enter_context(releasing_freed_memory(self.interval_s))

    def on_train_batch_end(self, batch, logs=None):
        self._releasing.close()

    def on_train_end(self, logs=None):
        self._releasing.close()
