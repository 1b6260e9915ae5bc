"""This machine's float32 matmul rate under TensorFlow: the yardstick for a model's GFLOP/s.

Times square matmuls and a transformer-shaped one ([tokens, width] x [width, 4 * width]),
with and without XLA, and reports the best rate as the peak.

    python bench/matmul_peak.py
"""

import argparse
import time

import bench_common  # noqa: F401  (puts the repo on the import path)
from bench_common import median

SHAPES = ((1024, 1024, 1024), (2048, 2048, 2048), (8 * 50, 768, 3072), (128 * 17, 192, 768))


def matmul_rate(m, k, n, jit_compile, repeats=10):
    """Median GFLOP/s of an [m, k] x [k, n] float32 matmul."""
    import tensorflow as tf

    a = tf.random.normal((m, k))
    b = tf.random.normal((k, n))
    matmul = tf.function(tf.linalg.matmul, jit_compile=jit_compile)
    matmul(a, b)
    inner = max(1, int(2e9 / (2 * m * k * n)))  # about 2 GFLOP per timed call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            result = matmul(a, b)
        result.numpy()
        times.append((time.perf_counter() - start) / inner)
    return 2 * m * k * n / median(times) / 1e9


def measure_peak(verbose=True):
    """The best matmul GFLOP/s over the shapes and XLA on/off."""
    best = 0.0
    for m, k, n in SHAPES:
        for jit_compile in (False, True):
            rate = matmul_rate(m, k, n, jit_compile)
            if verbose:
                print(f"matmul [{m}x{k}]x[{k}x{n}] xla={jit_compile}: {rate:.1f} GFLOP/s")
            best = max(best, rate)
    return best


def main():
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print(f"matmul_peak_gflops={measure_peak():.1f}")


if __name__ == "__main__":
    main()
