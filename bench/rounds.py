"""Interleaved timing: contestants (Keras in this process, PyTorch in another) take turns at
rounds of steps, so that a machine shared with other work slows them alike."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

from bench_common import median, preset_architecture

PAUSE_BETWEEN_TURNS_S = 0.3  # lets the other side's spinning worker threads go idle
QUIET_BUSY_FRACTION = 0.15  # a turn starts once the CPUs are at most this busy ...
QUIET_MAX_WAIT_S = 8  # ... or after this long


def cpu_busy_fraction(interval=0.5):
    """How busy all CPUs were over `interval` seconds, from /proc/stat (None off Linux)."""
    def sample():
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, total

    try:
        idle_before, total_before = sample()
        time.sleep(interval)
        idle_after, total_after = sample()
    except OSError:
        return None
    return 1 - (idle_after - idle_before) / max(total_after - total_before, 1)


def wait_for_quiet(max_wait_s=QUIET_MAX_WAIT_S):
    """Wait (a while at most) until other work leaves the CPUs idle: True if they were."""
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        busy = cpu_busy_fraction()
        if busy is None or busy <= QUIET_BUSY_FRACTION:
            return True
    return False


@dataclasses.dataclass
class Timings:
    """Wall-clock step times, and the CPU time the process spent per step (all its threads):
    the CPU time barely moves when other work shares the machine, the wall time does."""

    round_ms: list = dataclasses.field(default_factory=list)  # median step time of each round
    round_best_ms: list = dataclasses.field(default_factory=list)  # fastest step of each round
    all_step_ms: list = dataclasses.field(default_factory=list)
    round_cpu_ms: list = dataclasses.field(default_factory=list)  # median CPU ms per step
    quiet_starts: int = 0  # rounds that started on otherwise idle CPUs


def timed(function, count, steps_per_call=1):
    """Run `function` `count` times: ([wall ms per step], [CPU ms per step]) of each call."""
    wall, cpu = [], []
    for _ in range(count):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - start) * 1000 / steps_per_call)
        cpu.append((time.process_time() - start_cpu) * 1000 / steps_per_call)
    return wall, cpu


def interleave(contestants, rounds, steps, quiet_wait_s=QUIET_MAX_WAIT_S):
    """{name: contestant} -> {name: Timings}; the order within a round alternates (ABBA).
    `steps` per round is one number, or {name: number}; each turn waits up to `quiet_wait_s`
    for idle CPUs."""
    results = {name: Timings() for name in contestants}
    names = list(contestants)
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            time.sleep(PAUSE_BETWEEN_TURNS_S)
            results[name].quiet_starts += wait_for_quiet(quiet_wait_s)
            wall, cpu = contestants[name].round(steps[name] if isinstance(steps, dict) else steps)
            results[name].round_ms.append(median(wall))
            results[name].round_best_ms.append(min(wall))
            results[name].all_step_ms.extend(wall)
            results[name].round_cpu_ms.append(median(cpu))
    return results


def speed_ratios(slow, fast):
    """Ratios of step times slow/fast (> 1: `fast` is faster): per round of the rounds' medians,
    per round of their fastest steps, and of the fastest steps of the whole run. Other work on
    the machine only ever adds time, and a process whose threads lose their core can lose far
    more than its share (OpenMP barriers spin), so fastest steps are the steadier estimate."""
    return ([s / f for s, f in zip(slow.round_ms, fast.round_ms)],
            [s / f for s, f in zip(slow.round_best_ms, fast.round_best_ms)],
            min(slow.all_step_ms) / min(fast.all_step_ms))


def counting_traces(contestant, function):
    """`function`, counting in `contestant.traces` how often TensorFlow traces it (retracing
    costs seconds)."""

    def traced(*args):
        contestant.traces += 1
        return function(*args)

    return traced


def random_images(architecture, batch, seed=0):
    height, width = architecture["image_size"]
    shape = (batch, height, width, architecture["num_channels"])
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


class KerasContestant:
    """keras_mae's compiled training step (the `model.fit` one) or compiled `encode`."""

    def __init__(self, preset, batch, mode, jit_compile=True, steps_per_execution=1, warmup=2,
                 overrides=None):
        import tensorflow as tf

        from keras_mae import MaskedAutoencoder
        from keras_mae.optimizers import pretraining_adamw
        from keras_mae.training.callbacks.freed_memory import releasing_freed_memory

        self.mode = mode
        self.traces = 0
        self.losses = []
        overrides = overrides or {}
        self.model = MaskedAutoencoder.from_preset(
            preset, **{"norm_pix_loss": True, "seed": 0, **overrides})
        images = tf.constant(random_images(preset_architecture(preset, **overrides), batch))
        if mode == "infer":
            self.steps_per_call = 1
            encode = tf.function(counting_traces(self, self.model.encode), jit_compile=jit_compile)
            self._call = lambda: encode(images)
        else:
            self.steps_per_call = steps_per_execution
            self.model.compile(
                optimizer=pretraining_adamw(self.model, 1.5e-4 * batch / 256),
                jit_compile=jit_compile,
                steps_per_execution=steps_per_execution,
            )
            self.model.optimizer.build(self.model.trainable_variables)  # as fit() does first
            self.model.train_step = counting_traces(self, self.model.train_step)
            self.model.make_train_function()
            iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
            self._call = lambda: self.model.train_function(iterator)
        self.initial_iterations = self.iterations
        with releasing_freed_memory():  # as train.py's fit, while the first step compiles
            self.round(warmup)

    @property
    def iterations(self):
        return int(self.model.optimizer.iterations) if self.mode == "train" else 0

    def _run(self):
        logs = self._call()
        if self.mode == "train":
            self.losses.append(float(logs["loss"]))  # also waits for the step to finish

    def round(self, steps):
        """Run at least `steps` steps: (wall, CPU) ms per step of each compiled call."""
        if self.mode == "train":
            self.model.reset_metrics()  # the logged loss is then a mean over this round
        return timed(self._run, -(-steps // self.steps_per_call), self.steps_per_call)


class ServedContestant:
    """A contestant in its own process (a script with `--serve`), answering `run N` rounds."""

    def __init__(self, script, arguments, env=None):
        path = pathlib.Path(__file__).with_name(script)
        self.process = subprocess.Popen(
            [sys.executable, str(path), "--serve", *arguments],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )

    def _reply(self):
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"The process {self.process.args} ended early; see above.")
            if line.startswith("{"):
                return json.loads(line)

    def wait_ready(self):
        self._reply()
        return self

    def round(self, steps):
        self.process.stdin.write(f"run {steps}\n")
        self.process.stdin.flush()
        reply = self._reply()
        return reply["step_ms"], reply["cpu_ms"]

    def close(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        return self._reply()

    def __del__(self):
        if self.process.poll() is None:
            self.process.kill()


def serve(contestant, extra_report=dict):
    """The served side: say `ready`, answer `run N` with step times; on `quit`, report."""
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        wall, cpu = contestant.round(int(command[1]))
        print(json.dumps({"step_ms": wall, "cpu_ms": cpu}), flush=True)
    print(json.dumps(extra_report()), flush=True)
