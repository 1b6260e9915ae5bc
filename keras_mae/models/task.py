"""`Task`: what the models built on a `ViTBackbone` share, as keras-hub's tasks do: the
backbone is serialised once, under the `backbone` key of the task's config, and the image
geometry is the backbone's."""

import keras
import tensorflow as tf
from absl import logging

from keras_mae.models.executions import multi_step_function
from keras_mae.models.replicas import sum_before_clipping
from keras_mae.private_api import check_model, check_optimizer
from keras_mae.xla import (
    OFF, TPU_COMPILER, WHOLE_STEP, cannot_compile, on_each_replica, xla_scope,
)


class Task(keras.Model):
    """A model on `self.backbone` (set by the subclass before anything reads it)."""

    def compile(self, optimizer=None, learning_rate=None, jit_compile="auto", **kwargs):
        """Keras' `compile`, with the fast and faithful defaults.

        The optimizer sums the replicas' gradients before it accumulates and clips them
        (`models.replicas`), so that clipping bounds the global batch's gradient.

        Args:
            optimizer: a Keras optimizer, kept as given; None: the paper's optimiser for this
                task (`recipe_optimizer`).
            learning_rate: a float or a schedule for the paper's optimiser (default: the
                paper's base lr); only without `optimizer`.
            jit_compile: "auto" or True compiles with XLA what can be compiled under the
                current strategy (`keras_mae.xla`: the whole step on one device, each
                replica's forward and backward pass on several; Keras' own "auto" leaves XLA
                off on CPUs and under any strategy); False: no XLA.
            **kwargs: the rest of Keras' `compile` (e.g. `steps_per_execution`, `metrics`).

        Raises:
            ValueError: both `optimizer` and `learning_rate` are given.
        """
        if optimizer is None:
            optimizer = self.recipe_optimizer(learning_rate)
        elif learning_rate is not None:
            raise ValueError("learning_rate is for compile() without an optimizer: set the "
                             "optimizer's own learning rate instead.")
        self.xla = xla_scope(self.distribute_strategy, jit_compile in ("auto", True))
        super().compile(optimizer=optimizer, jit_compile=self.xla == WHOLE_STEP, **kwargs)
        check_optimizer(self.optimizer)
        check_model(self)
        sum_before_clipping(self.optimizer)

    def fit(self, *args, **kwargs):
        """Keras' `fit`; where XLA cannot compile the steps on this machine, the same `fit`
        again without XLA, with one warning (nothing was trained: the first step failed)."""
        return self._without_xla_if_it_cannot_compile(super().fit, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """Keras' `evaluate`, falling back as `fit` does."""
        return self._without_xla_if_it_cannot_compile(super().evaluate, *args, **kwargs)

    def _without_xla_if_it_cannot_compile(self, run, *args, **kwargs):
        updates = int(self.optimizer.iterations.numpy()) if self.optimizer else 0
        try:
            return run(*args, **kwargs)
        except tf.errors.OpError as error:
            moved = self.optimizer and int(self.optimizer.iterations.numpy()) != updates
            if getattr(self, "xla", OFF) in (OFF, TPU_COMPILER) or moved or not cannot_compile(
                    error):
                raise
            reason = next((line.strip() for line in str(error).splitlines()
                           if "compile" in line), "")
            logging.warning("XLA (%s) cannot compile %s's step here, so it runs without XLA: "
                            "%s", self.xla, type(self).__name__, reason[:300])
            self.xla, self.jit_compile = OFF, False
            self.train_function = self.test_function = self.predict_function = None
            return run(*args, **kwargs)

    def on_each_replica(self, function):
        """`function` (tensors in, tensors out: a forward and backward pass) XLA-compiled on
        each replica where the step is distributed and XLA was asked for; else `function`."""
        return on_each_replica(function, getattr(self, "xla", None))

    def make_train_function(self, force=False):
        """Keras' step function, or with `steps_per_execution` > 1 one that runs under every
        strategy (`models.executions`)."""
        if self.steps_per_execution == 1 or (self.train_function is not None and not force):
            return super().make_train_function(force)
        self.train_function = multi_step_function(self, self.train_step,
                                                  self.steps_per_execution)
        return self.train_function

    def make_test_function(self, force=False):
        """As `make_train_function`, for evaluation."""
        if self.steps_per_execution == 1 or (self.test_function is not None and not force):
            return super().make_test_function(force)
        self.test_function = multi_step_function(self, self.test_step, self.steps_per_execution)
        return self.test_function

    def compile_from_config(self, config):
        """What Keras does on loading a compiled model (it skips models that override
        `compile`): compile as saved, and build the optimizer to receive its saved state."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    image_size = property(lambda self: self.backbone.image_size)
    patch_size = property(lambda self: self.backbone.patch_size)
    num_channels = property(lambda self: self.backbone.num_channels)
    grid_size = property(lambda self: self.backbone.grid_size)
    num_patches = property(lambda self: self.backbone.num_patches)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)

    def get_config(self):
        return {**super().get_config(), "backbone": keras.layers.serialize(self.backbone)}
