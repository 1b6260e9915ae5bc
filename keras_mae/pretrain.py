"""A whole pretraining run from a config: data, model, optimiser, `model.fit`, artefacts.

`train.py` is its command line; tests call `run` directly.
"""

import hashlib
import json
import pathlib
import shutil

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_mae.backup import AtomicBackupAndRestore
from keras_mae.callbacks import ReconstructionFigure
from keras_mae.checkpoints import EpochCheckpoints, save_atomically
from keras_mae.data import (
    find_unreadable, from_folder, from_tfds, make_dataset, sample_source,
)
from keras_mae.distribute import (
    check_global_batch, is_chief, jit_compile_for, make_strategy, split_cpu,
)
from keras_mae.errors import InputError
from keras_mae.export import export_saved_model
from keras_mae.model import MaskedAutoencoder
from keras_mae.optim import adamw, scaled_learning_rate, warmup_cosine
from keras_mae.preflight import check_config, check_workdir
from keras_mae.stopping import NonFiniteLossPolicy, StopOnInterrupt


def load_source(data_config, split, seed=0, require_labels=False):
    """The `ImageSource` for `split` (a split name, or a folder path for source "folder"), with
    `data_config.num_channels` channels; `require_labels` refuses a folder without classes."""
    if data_config.source == "sample":
        return sample_source(split, data_config.num_channels)
    if data_config.source == "folder":
        return from_folder(split, data_config.num_channels, shuffle=True, seed=seed,
                           require_labels=require_labels)
    if data_config.source == "tfds":
        return from_tfds(
            data_config.tfds_name,
            split,
            data_dir=data_config.tfds_data_dir or None,
            download=data_config.tfds_download,
            num_channels=data_config.num_channels,
        )
    raise InputError(
        f"Unknown data.source {data_config.source!r}; use 'sample', 'tfds' or 'folder'."
    )


def load_sources(config):
    """(training source, held-out source or None), each holding at least one batch. Errors
    name the config field at fault (data.train or data.eval)."""
    sources = {}
    for field, name in (("train", "training"), ("eval", "held-out")):
        split = config.data[field]
        try:
            sources[field] = load_source(config.data, split, config.seed) if split else None
        except InputError as error:
            raise InputError(f"--config.data.{field}={split}: {error}") from None
        if sources[field] is not None and sources[field].num_examples < config.batch_size:
            raise InputError(
                f"The {name} data has {sources[field].num_examples} images, fewer than one "
                f"batch of {config.batch_size}. Lower --config.batch_size or add data."
            )
    return sources["train"], sources["eval"]


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


def build_model(config):
    """The `MaskedAutoencoder` a config describes."""
    return MaskedAutoencoder.from_preset(
        config.model.preset,
        image_size=tuple(config.data.image_size),
        num_channels=config.data.num_channels,
        mask_ratio=config.model.mask_ratio,
        norm_pix_loss=config.model.norm_pix_loss,
        seed=config.seed,
    )


def run(config, workdir):
    """Pretrain as `config` says, writing checkpoints, logs, the model and a figure to `workdir`.

    Bad input raises `InputError` before training starts, and before anything is written where
    the input allows; a NaN/Inf loss (`config.nan_policy`), Ctrl-C and undecodable images end
    the run with an error that says what was kept. Under multi-worker training every worker runs
    this; only the chief keeps what it writes.
    """
    check_config(config)
    if config.num_cpu_devices > 1:
        split_cpu(config.num_cpu_devices)
    strategy = make_strategy(config)
    check_global_batch(config.batch_size, strategy)
    train_source, eval_source = load_sources(config)
    steps_per_epoch = config.steps_per_epoch or train_source.num_examples // config.batch_size
    chief = is_chief(strategy)
    workdir = pathlib.Path(workdir)
    outdir = workdir if chief else worker_scratch_dir(workdir, strategy)
    check_workdir(outdir, config)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy(config.mixed_precision)

    data = config.data
    image_size = tuple(data.image_size)
    train_ds = make_dataset(
        train_source, image_size, data.mean, data.std, config.batch_size,
        training=True, seed=config.seed, crop_scale=tuple(data.crop_scale),
    )
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()

    total_steps = steps_per_epoch * config.epochs
    peak_lr = scaled_learning_rate(config.optim.base_lr, config.batch_size)
    logging.info("lr = base_lr %g x global batch %d / 256 = %g (%d replicas)",
                 config.optim.base_lr, config.batch_size, peak_lr,
                 strategy.num_replicas_in_sync)
    with strategy.scope():
        model = build_model(config)
        schedule = warmup_cosine(
            peak_lr, total_steps, steps_per_epoch * config.optim.warmup_epochs,
            config.optim.min_lr,
        )
        model.compile(
            optimizer=adamw(model, schedule, config.optim.weight_decay,
                            config.optim.beta_1, config.optim.beta_2),
            jit_compile=jit_compile_for(strategy, config.jit_compile),
            steps_per_execution=config.steps_per_execution,
        )

    backup = AtomicBackupAndRestore(
        str(outdir / "backup"), save_freq=config.backup_every_steps or "epoch"
    )
    backup.check_matches(model)
    (outdir / "config.json").write_text(config.to_json_best_effort(indent=2))

    eval_ds = None
    if eval_source is not None:
        eval_ds = make_dataset(eval_source, image_size, data.mean, data.std, config.batch_size,
                               training=False, drop_remainder=True)
        # Keras 3.15 cannot split dict batches over workers: multi-worker runs use random masks.
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            eval_ds = with_fixed_noise(eval_ds, model.num_patches, config.seed)
        if config.eval_steps:
            eval_ds = eval_ds.take(config.eval_steps)

    interrupt = StopOnInterrupt(backup)
    try:  # Reading images (here and in fit) may meet files that cannot be decoded.
        figure_images, figure_noise = figure_batch(
            eval_ds if eval_ds is not None else train_ds, config.num_figure_images,
            model.num_patches, config.seed,
        )
        callbacks = [  # The stopping callbacks first: they stop before any other saves.
            NonFiniteLossPolicy(config.nan_policy, outdir),
            interrupt,
            backup,
            EpochCheckpoints(outdir / "checkpoints", keep=config.keep_checkpoints),
            # Per-epoch scalars: with update_freq=N, Keras 3.15 drops the epoch summaries of
            # epochs whose last step is not a multiple of N.
            keras.callbacks.TensorBoard(str(outdir / "tensorboard")),
            ReconstructionFigure(
                figure_images, data.mean, data.std, noise=figure_noise,
                png_path=outdir / "reconstructions.png",
                log_dir=outdir / "tensorboard" / "reconstructions",
                every_n_epochs=config.figure_every_epochs,
            ),
        ]
        with interrupt.catching_interrupts():
            history = model.fit(
                train_ds,
                epochs=config.epochs,
                steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
                validation_data=eval_ds,
                callbacks=callbacks,
                shuffle=False,  # The pipeline shuffles.
            )
    except tf.errors.OpError as error:
        if "Iterator" in error.message:  # raised in the input pipeline (tf.data's iterators)
            refuse_unreadable_images((train_source, eval_source), backup, outdir)
        raise
    logging.info("final weights fingerprint: %s", weights_fingerprint(model))
    if not chief:
        shutil.rmtree(outdir.parent, ignore_errors=True)
        return model, history

    save_atomically(model, workdir / "model.keras")
    (workdir / "history.json").write_text(json.dumps(history.history, indent=2, default=float))
    if config.export_saved_model:
        export_saved_model(model, workdir / "saved_model", data.mean, data.std)
    return model, history


def refuse_unreadable_images(sources, backup, outdir, shown=3):
    """After an input-pipeline error in `fit`: if image files of `sources` cannot be decoded,
    back up the state reached and raise an `InputError` naming them (all listed in a file if
    many). Decodes every file once: minutes for ImageNet, paid only after such an error."""
    unreadable = [bad for source in sources if source is not None
                  for bad in find_unreadable(source.files)]
    if not unreadable:
        return
    backup.save_now()
    names = "; ".join(f"{file} ({reason})" for file, reason in unreadable[:shown])
    more = ""
    if len(unreadable) > shown:
        listing = outdir / "unreadable_images.txt"
        listing.write_text("".join(f"{file}\t{reason}\n" for file, reason in unreadable))
        more = f"; and {len(unreadable) - shown} more, all listed in {listing}"
    raise InputError(
        f"{len(unreadable)} image file(s) cannot be decoded: {names}{more}. Delete or replace "
        "them, then re-run the same command: it resumes from the backup just written."
    ) from None


def worker_scratch_dir(workdir, strategy):
    """Where a non-chief worker writes (and later deletes) its copies, as the TF docs prescribe."""
    resolver = strategy.cluster_resolver
    return workdir / f".worker_{resolver.task_type}_{resolver.task_id}" / "scratch"


def weights_fingerprint(model):
    """A short hash of every weight's bytes: equal on workers that hold the same model."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]
