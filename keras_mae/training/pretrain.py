"""A whole pretraining run from a config: data, model, optimiser, `model.fit`, artefacts.

`train.py` is its command line (task "pretrain"); tests call `pretrain` directly.
"""

import functools

import numpy as np
import tensorflow as tf

from keras_mae import storage
from keras_mae.data import labelled_batches, make_dataset
from keras_mae.errors import InputError
from keras_mae.models import MaskedAutoencoder
from keras_mae.models.presets import preset_arguments
from keras_mae.optimizers import pretraining_adamw
from keras_mae.training import runner
from keras_mae.training.callbacks import KNNMonitor, ReconstructionFigure
from keras_mae.training.evaluate import pretrained_backbone


def with_fixed_noise(dataset, num_patches, seed):
    """Batches -> {"images", "noise"} with noise fixed per batch index, so that held-out losses
    of different epochs (and runs) are measured on the same masks."""

    def add_noise(index, images):
        noise = tf.random.stateless_uniform(
            (tf.shape(images)[0], num_patches), seed=tf.stack([tf.cast(seed, tf.int64), index])
        )
        return {"images": images, "noise": noise}

    return dataset.enumerate().map(add_noise)


def figure_batch(dataset, count, num_patches, seed):
    """(images, noise) for the reconstruction figure: the first `count` images of `dataset` and
    masking noise fixed by `seed`, so that every epoch's figure shows the same masks."""
    batch = next(iter(dataset))
    images = batch["images"] if isinstance(batch, dict) else batch
    images = np.asarray(images[:count])
    noise = np.random.default_rng(seed).random((len(images), num_patches)).astype(np.float32)
    return images, noise


def figure(config, job, model, dataset):
    """[the reconstruction figure callback] of a fixed batch of `dataset`, or [] if none asked."""
    if not config.num_figure_images:
        return []
    images, noise = figure_batch(dataset, config.num_figure_images, model.num_patches,
                                 config.seed)
    return [ReconstructionFigure(
        images, config.data.mean, config.data.std, noise=noise,
        png_path=storage.join(job.outdir, "reconstructions.png"),
        log_dir=storage.join(job.outdir, "tensorboard", "reconstructions"),
        every_n_epochs=config.figure_every_epochs,
    )]


def knn_monitor(config, job):
    """[the k-NN monitor]: a fixed labelled subset of the training images (or of `knn.train`) as
    the memory bank, the held-out images (or `knn.eval`) as queries. Both need labels."""
    bank = knn_source(config, "train", job.train_source)
    queries = knn_source(config, "eval", job.eval_source)
    if queries is None or not bank.num_classes:
        raise InputError(
            "knn.every_epochs needs labelled training and held-out images (data.eval, a folder "
            "with class subfolders or a labelled TFDS data set); for unlabelled training images, "
            "name a small labelled set with --config.knn.train and --config.knn.eval; or "
            "--config.knn.every_epochs=0."
        )
    data = config.data

    def batches(source, count=0):
        return labelled_batches(source, data.image_size, data.mean, data.std, config.batch_size,
                                count=count, seed=config.seed)

    return [KNNMonitor(batches(bank, config.knn.bank_size), batches(queries), bank.num_classes,
                       every_n_epochs=config.knn.every_epochs, k=config.knn.k,
                       temperature=config.knn.temperature)]


def knn_source(config, field, default):
    """The monitor's labelled images named by `knn.<field>`, or `default` (the run's own)."""
    split = config.knn[field]
    if not split:
        return default
    try:
        return runner.load_source(config.data, split, require_labels=True)
    except InputError as error:
        raise InputError(f"--config.knn.{field}={split}: {error}") from None


def build_model(config):
    """The `MaskedAutoencoder` a config describes: new, or around the encoder of
    `init_checkpoint` (its position table fixed, no drop path) with a fresh decoder."""
    if not config.get("init_checkpoint"):  # configs written before the field have none
        return MaskedAutoencoder.from_preset(config.model.preset, **model_arguments(config))
    backbone = pretrained_backbone(config).clone(
        trainable_pos_embed=False, drop_path_rate=0.0, remat=config.model.remat)
    _, arguments = preset_arguments(config.model.preset, **model_arguments(config))
    return MaskedAutoencoder(backbone, **arguments)


def model_arguments(config):
    """The arguments a pretraining config sets on top of its preset's."""
    model = config.model
    arguments = dict(
        image_size=tuple(config.data.image_size), num_channels=config.data.num_channels,
        mask_ratio=model.mask_ratio, norm_pix_loss=model.norm_pix_loss, seed=config.seed,
        remat=model.remat, mask_token_in_encoder=model.mask_token_in_encoder,
        loss_on=model.loss_on,
    )
    if model.decoder_num_layers >= 0:
        arguments["decoder_num_layers"] = model.decoder_num_layers
    return arguments


def pretrain(config, workdir, allow_config_change=False):
    """Pretrain as `config` says, writing checkpoints, logs, the model and a figure to `workdir`.

    Bad input raises `InputError` before training starts, and before anything is written where
    the input allows; a NaN/Inf loss (`config.nan_policy`), Ctrl-C and undecodable images end
    the run with an error that says what was kept. Under multi-worker training every worker runs
    this; only the chief keeps what it writes. A run in `workdir` is resumed, and refused if
    its config differs in what it trains, unless `allow_config_change`.
    """
    job = runner.prepare(config, workdir, allow_config_change=allow_config_change)
    data = config.data
    image_size = tuple(data.image_size)
    train_data = functools.partial(
        make_dataset, job.train_source, image_size, data.mean, data.std, config.batch_size,
        training=True, seed=config.seed, crop_scale=tuple(data.crop_scale),
        steps_per_epoch=job.steps_per_epoch,
    )
    with job.strategy.scope():
        model = build_model(config)
        model.skip_nonfinite_steps = config.nan_policy == "skip"
        model.compile(
            optimizer=pretraining_adamw(model, job.learning_rate_schedule(),
                                        config.optim.weight_decay, config.optim.beta_1,
                                        config.optim.beta_2, **job.optimizer_options()),
            **job.compile_options(),
        )

    eval_ds = None
    if job.eval_source is not None:
        eval_ds = make_dataset(job.eval_source, image_size, data.mean, data.std,
                               config.batch_size, training=False, drop_remainder=True)
        eval_ds = with_fixed_noise(eval_ds, model.num_patches, config.seed)

    def monitors():
        return figure(config, job, model, eval_ds if eval_ds is not None else train_data()) + (
            knn_monitor(config, job) if config.knn.every_epochs else [])

    history = runner.fit(job, model, train_data, eval_ds, extra_callbacks=monitors)
    runner.finish(job, model, history)
    return model, history
