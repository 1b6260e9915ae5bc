"""`TrainingThroughput`: images per second of each epoch's steps after the first."""

import types

from keras_mae.training.callbacks import throughput
from keras_mae.training.callbacks.throughput import TrainingThroughput


def test_images_per_second_leave_out_the_first_step_of_each_epoch(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: now[0])
    meter = TrainingThroughput(global_batch_size=64)
    meter.set_model(types.SimpleNamespace(steps_per_execution=1))
    for epoch in range(2):
        logs = {}
        meter.on_epoch_begin(epoch)
        meter.on_train_batch_begin(0)
        now[0] += 30.0  # the first step: compiling, waiting for data
        meter.on_train_batch_end(0)
        for step in range(1, 5):
            meter.on_train_batch_begin(step)
            now[0] += 0.5
            meter.on_train_batch_end(step)
        meter.on_epoch_end(epoch, logs)
        assert logs["train_images_per_sec"] == 4 * 64 / (4 * 0.5)


def test_an_epoch_of_one_step_logs_nothing():
    meter = TrainingThroughput(global_batch_size=8)
    meter.set_model(types.SimpleNamespace(steps_per_execution=1))
    logs = {}
    meter.on_epoch_begin(0)
    meter.on_train_batch_begin(0)
    meter.on_train_batch_end(0)
    meter.on_epoch_end(0, logs)
    assert logs == {}
