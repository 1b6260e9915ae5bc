"""What every training run shares, pretraining or evaluation: checks before any work, the
distribution strategy, the work directory (a local folder or a URL such as gs://, see
`keras_mae.storage`; the chief's: other workers write to a scratch folder they delete), and
`fit` with resumable backups, per-epoch checkpoints, TensorBoard, the NaN/Inf policy, Ctrl-C
and the naming of undecodable images; then the final model and SavedModel.

A task (`pretrain.pretrain`, `evaluate.train_classifier`) builds its data sets and compiled
model between `prepare` and `fit`.
"""

import dataclasses
import functools
import hashlib
import json
import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_mae import storage
from keras_mae.convert.keras_hub import is_keras_hub_preset, preset_normalization
from keras_mae.data import find_unreadable, from_folder, from_tfds, sample_source
from keras_mae.data.unreadable import unreadable_summary
from keras_mae.data.worker_share import worker_share
from keras_mae.errors import InputError
from keras_mae.export import export_saved_model
from keras_mae.optimizers import PerUpdate, scaled_learning_rate, warmup_cosine
from keras_mae.training.callbacks import (
    AtomicBackupAndRestore, DataPosition, EpochCheckpoints, NonFiniteLossPolicy,
    ReleaseFreedMemoryWhileCompiling, StopOnInterrupt, TrainingThroughput, save_atomically,
)
from keras_mae.training.checks import check_config, check_workdir
from keras_mae.training.config_change import check_resumed_config
from keras_mae.training.distribute import (
    check_global_batch, is_chief, make_strategy, same_on_every_worker, split_cpu,
)
from keras_mae.training.epochs import fit_by_epoch


@dataclasses.dataclass
class Job:
    """What a run knows once its checks passed: where it trains, where it writes, its data."""

    config: object
    strategy: tf.distribute.Strategy
    chief: bool
    workdir: str  # what the user named: a local path or a URL
    outdir: str  # where this process writes: the workdir, or a worker's scratch
    train_source: object
    eval_source: object
    steps_per_epoch: int
    first_epoch: int  # where training starts: 0, or the epoch of the backup it resumes from
    first_step: int = 0  # the steps of `first_epoch` its backup had done (taken mid-epoch)

    def learning_rate_schedule(self):
        """lr = base_lr x effective batch / 256 (or the absolute `optim.lr`, the reference's
        --lr beside --blr), warmed up linearly, then cosine per update. The effective batch is
        `batch_size` x `grad_accum_steps`, the batches one update averages."""
        optim, accumulation = self.config.optim, self.config.grad_accum_steps
        if optim.lr:
            peak = optim.lr
            logging.info("lr = %g (optim.lr; base_lr unused)", peak)
        else:
            effective_batch = self.config.batch_size * accumulation
            peak = scaled_learning_rate(optim.base_lr, effective_batch)
            logging.info("lr = base_lr %g x effective batch %d / 256 = %g (%d replicas, "
                         "%d accumulated steps per update)", optim.base_lr, effective_batch,
                         peak, self.strategy.num_replicas_in_sync, accumulation)
        schedule = warmup_cosine(peak, self.steps_per_epoch * self.config.epochs,
                                 self.steps_per_epoch * optim.warmup_epochs, optim.min_lr)
        return PerUpdate(schedule, accumulation) if accumulation > 1 else schedule

    def optimizer_options(self):
        """Gradient accumulation and clipping, for the optimiser of any task."""
        accumulation, clip = self.config.grad_accum_steps, self.config.optim.clip_grad
        return dict(gradient_accumulation_steps=accumulation if accumulation > 1 else None,
                    global_clipnorm=clip or None)

    def compile_options(self):
        """XLA (as `keras_mae.xla` places it under the strategy) and steps per execution, for
        `model.compile`."""
        return dict(jit_compile=self.config.jit_compile,
                    steps_per_execution=self.config.steps_per_execution)


def prepare(config, workdir, require_labels=False, allow_config_change=False):
    """Check everything knowable before work, choose the strategy and load the data sources.

    Raises `InputError` for bad input, before anything is written to `workdir`; also for a
    run in `workdir` that this one would resume with a changed config, unless
    `allow_config_change`.
    """
    storage.check_file_system(workdir)
    adopt_preset_normalization(config)
    check_config(config)
    if config.num_cpu_devices > 1:
        split_cpu(config.num_cpu_devices)
    strategy = make_strategy(config)
    check_global_batch(config.batch_size, strategy)
    train_source, eval_source = load_sources(config, require_labels)
    chief = is_chief(strategy)
    workdir = storage.normalize(workdir)
    outdir = workdir if chief else worker_scratch_dir(workdir, strategy)
    check_workdir(outdir, config)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy(config.mixed_precision)
    steps_per_epoch = config.steps_per_epoch or whole_updates(
        train_source.num_examples // config.batch_size, config.grad_accum_steps)
    first_epoch, first_step = resume_position_of_every_worker(
        strategy, storage.join(workdir, "backup"))
    if (first_epoch, first_step) != (0, 0):
        check_resumed_config(config, workdir, first_epoch, allow=allow_config_change)
    return Job(config, strategy, chief, workdir, outdir, train_source, eval_source,
               steps_per_epoch, first_epoch, first_step)


def adopt_preset_normalization(config):
    """With a keras-hub preset as `init_checkpoint` and `data.preset_normalization`, set
    `data.mean`/`data.std` to the preset's (its image converter's scale and offset)."""
    init = config.get("init_checkpoint")
    if not init or not config.data.get("preset_normalization") or not is_keras_hub_preset(init):
        return
    normalization = preset_normalization(init)
    if normalization is not None:
        if len(normalization[0]) not in (1, config.data.num_channels):
            raise InputError(
                f"The keras-hub preset {init} normalises {len(normalization[0])} channels, the "
                f"config gives data.num_channels={config.data.num_channels}: set "
                f"--config.data.num_channels={len(normalization[0])}.")
        logging.info("Normalising with the keras-hub preset's mean %s and std %s "
                     "(--config.data.preset_normalization=False keeps data.mean/std)",
                     *normalization)
        config.data.mean, config.data.std = normalization


def resume_position_of_every_worker(strategy, backup_dir):
    """(epoch, steps of it done) of the newest backup in `backup_dir` (the chief's), which every
    worker reads: workers that resumed at different places would wait for each other forever.
    Checked with a collective, so that a worker that cannot see the chief's backups stops them
    all."""
    epoch, step = AtomicBackupAndRestore.resume_position(backup_dir)
    if not same_on_every_worker(strategy, epoch * 2**20 + step):  # both as one number
        raise InputError(
            f"The workers see different backups in {backup_dir} (this one resumes at epoch "
            f"{epoch}). Give every worker the same --workdir, a folder they all share."
        )
    return epoch, step


def whole_updates(steps, accumulation):
    """An epoch's steps cut to whole updates of `accumulation` steps (the reference too drops an
    epoch's last, incomplete accumulation)."""
    if steps < accumulation:
        raise InputError(
            f"One update accumulates {accumulation} batches, but the training data hold "
            f"{steps}. Lower --config.grad_accum_steps or --config.batch_size, or add data."
        )
    return steps - steps % accumulation


def fit(job, model, train_data, eval_ds, extra_callbacks=lambda: []):
    """`model.fit` as every run does it, one epoch at a time (`epochs.fit_by_epoch`); returns
    its `History`, holding every epoch of the run (restored from the backup for epochs before a
    resume). `train_data(first_epoch, epochs, first_step, share)` gives the training batches of
    those epochs, `job.steps_per_epoch` each; under several workers, each worker's images only
    (`share`, see `keras_mae.data.worker_share`).

    `extra_callbacks()` is called where undecodable images are caught (it may read data).
    """
    config, outdir = job.config, job.outdir
    position = DataPosition(job.first_epoch, job.first_step)
    if not job.chief:  # a worker's own backups are never read: it resumes from the chief's
        storage.remove(storage.join(outdir, "backup"))
    backup = AtomicBackupAndRestore(
        storage.join(outdir, "backup"), save_freq=config.backup_every_steps or "epoch",
        restore_dir=storage.join(job.workdir, "backup"), position=position,
    )
    backup.check_matches(model)
    storage.write_text(storage.join(outdir, "config.json"),
                       config.to_json_best_effort(indent=2))
    if eval_ds is not None and config.eval_steps:
        eval_ds = eval_ds.take(config.eval_steps)

    interrupt = StopOnInterrupt(backup)
    try:  # Reading images (here and in fit) may meet files that cannot be decoded.
        callbacks = [
            position,  # first: every save records the steps it counts
            # The stopping callbacks next: they stop before any other saves.
            NonFiniteLossPolicy(config.nan_policy, outdir),
            interrupt,
            TrainingThroughput(config.batch_size),
            *extra_callbacks(),  # before the backup and the loggers, which see their logs
            backup,
            EpochCheckpoints(storage.join(outdir, "checkpoints"), keep=config.keep_checkpoints),
            ReleaseFreedMemoryWhileCompiling(),
            # Per-epoch scalars: with update_freq=N, Keras 3.15 drops the epoch summaries of
            # epochs whose last step is not a multiple of N.
            keras.callbacks.TensorBoard(storage.join(outdir, "tensorboard")),
        ]
        share = worker_share(job.strategy)
        if share:
            logging.info("Worker %d of %d reads and augments only its replicas' images, %d of "
                         "every global batch of %d.", share.worker + 1, share.workers,
                         config.batch_size // share.workers, config.batch_size)
        with interrupt.catching_interrupts():
            history = fit_by_epoch(
                model, functools.partial(train_data, share=share) if share else train_data,
                callbacks, config.epochs, job.steps_per_epoch,
                first_epoch=job.first_epoch, first_step=job.first_step, validation_data=eval_ds,
                shuffle=False,  # The pipelines shuffle.
            )
        history.history = backup.history()  # every epoch, those before a resume too
        return history
    except tf.errors.OpError as error:
        if "Iterator" in error.message:  # raised in the input pipeline (tf.data's iterators)
            refuse_unreadable_images((job.train_source, job.eval_source), backup, outdir)
        raise


def finish(job, model, history):
    """Write the final model, its history and (if asked) a SavedModel; workers other than the
    chief delete their scratch folder instead."""
    logging.info("final weights fingerprint: %s", weights_fingerprint(model))
    if not job.chief:
        storage.remove(os.path.dirname(job.outdir))  # .worker_<type>_<id>, see worker_scratch_dir
        return
    save_atomically(model, storage.join(job.workdir, "model.keras"))
    storage.write_text(storage.join(job.workdir, "history.json"),
                       json.dumps(history.history, indent=2, default=float))
    if job.config.export_saved_model:
        data = job.config.data
        export_saved_model(model, storage.join(job.workdir, "saved_model"), data.mean, data.std)


def load_source(data_config, split, require_labels=False):
    """The `ImageSource` for `split` (a split name, or a folder path for source "folder"), with
    `data_config.num_channels` channels; `require_labels` refuses a folder without classes."""
    if data_config.source == "sample":
        return sample_source(split, data_config.num_channels)
    if data_config.source == "folder":
        return from_folder(split, data_config.num_channels, require_labels=require_labels)
    return from_tfds(  # "tfds": check_config allows config.SOURCES alone
        data_config.tfds_name,
        split,
        data_dir=data_config.tfds_data_dir or None,
        download=data_config.tfds_download,
        num_channels=data_config.num_channels,
    )


def load_sources(config, require_labels=False, fields=("train", "eval")):
    """(training source, held-out source or None), each holding at least one batch; only the
    `fields` of config.data are read (the others give None). Errors name the config field at
    fault (data.train or data.eval)."""
    sources = {}
    for field, name in (("train", "training"), ("eval", "held-out")):
        split = config.data[field] if field in fields else ""
        try:
            sources[field] = (
                load_source(config.data, split, require_labels) if split else None
            )
        except InputError as error:
            raise InputError(f"--config.data.{field}={split}: {error}") from None
        if sources[field] is not None and sources[field].num_examples < config.batch_size:
            raise InputError(
                f"The {name} data has {sources[field].num_examples} images, fewer than one "
                f"batch of {config.batch_size}. Lower --config.batch_size or add data."
            )
    return sources["train"], sources["eval"]


def refuse_unreadable_images(sources, backup, outdir, shown=3):
    """After an input-pipeline error in `fit`: if image files of `sources` cannot be decoded,
    back up the state reached and raise an `InputError` naming them (all listed in a file if
    many). Decodes every file once: minutes for ImageNet, paid only after such an error."""
    unreadable = [bad for source in sources if source is not None
                  for bad in find_unreadable(source.files)]
    if not unreadable:
        return
    backup.save_now()
    more = ""
    if len(unreadable) > shown:
        listing = storage.join(outdir, "unreadable_images.txt")
        storage.write_text(listing,
                           "".join(f"{file}\t{reason}\n" for file, reason in unreadable))
        more = f"; and {len(unreadable) - shown} more, all listed in {listing}"
    raise InputError(
        f"{unreadable_summary(unreadable, shown)}{more}. Delete or replace them, then re-run "
        "the same command: it resumes from the backup just written."
    ) from None


def worker_scratch_dir(workdir, strategy):
    """Where a non-chief worker writes (and later deletes) its copies, as the TF docs prescribe."""
    resolver = strategy.cluster_resolver
    return storage.join(workdir, f".worker_{resolver.task_type}_{resolver.task_id}", "scratch")


def weights_fingerprint(model):
    """A short hash of every weight's bytes: equal on workers that hold the same model."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]
