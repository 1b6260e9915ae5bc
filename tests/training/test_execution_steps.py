"""`ExecutionSteps`: the steps done at each `on_train_batch_end`, whether Keras numbers an
execution by its last step (3.11+) or by its first (3.10)."""

import types

import pytest

from keras_mae.training.callbacks import DataPosition


@pytest.mark.parametrize("numbered_by", ["last step (Keras 3.11+)", "first step (Keras 3.10)"])
def test_the_position_counts_each_executions_steps_on_either_numbering(numbered_by):
    position = DataPosition(epoch=0, step=2)  # resumed at step 2 of epoch 0
    position.set_model(types.SimpleNamespace(steps_per_execution=3))
    position.set_params({"steps": 8})  # the resumed epoch's fit: 8 of its 10 steps
    position.on_epoch_begin(0)
    seen = []
    for first in range(0, 8, 3):
        position.on_train_batch_begin(first)
        position.on_train_batch_end(first + 2 if numbered_by.startswith("last") else first)
        seen.append(position.step)
    assert seen == [5, 8, 10]
