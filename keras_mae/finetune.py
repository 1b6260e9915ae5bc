"""Evaluating a pretrained encoder as the paper does (section 4): end-to-end fine-tuning and
linear probing of a `ViTClassifier`, with `model.fit`, from a config.

`train.py` runs this for `config.task` "finetune" or "linprobe"; tests call `run` directly.
"""

import json
import pathlib

import keras
from absl import logging

from keras_mae import convert
from keras_mae.backup import AtomicBackupAndRestore
from keras_mae.classifier import ViTClassifier
from keras_mae.data.classification import make_classification_dataset
from keras_mae.distribute import check_global_batch, jit_compile_for, make_strategy, split_cpu
from keras_mae.export import export_saved_model
from keras_mae.optim import scaled_learning_rate, warmup_cosine
from keras_mae.optimizers import LARS, LayerDecayAdamW
from keras_mae.pretrain import load_source


def load_pretrained(path):
    """A `MaskedAutoencoder` from a `.keras` file, an official `.pth` or a HuggingFace folder."""
    if str(path).endswith(".keras"):
        return keras.models.load_model(path, compile=False)
    return convert.load_checkpoint(path)


def build_classifier(config, num_classes):
    """The classifier to train: the pretrained encoder (or a fresh one, without
    `init_checkpoint`: the supervised baseline) with the task's pooling and head."""
    probing = config.task == "linprobe"
    head = dict(pooling=config.model.pooling, drop_path_rate=config.model.drop_path_rate,
                head_batch_norm=probing, freeze_encoder=probing)
    if config.init_checkpoint:
        classifier = ViTClassifier.from_pretrained(
            load_pretrained(config.init_checkpoint), num_classes, **head
        )
    else:
        classifier = ViTClassifier.from_preset(
            config.model.preset, num_classes, image_size=tuple(config.data.image_size),
            num_channels=config.data.num_channels, **head,
        )
    return classifier


def make_optimizer(config, classifier, learning_rate):
    """LARS on the head for probing; AdamW with layer-wise lr decay for fine-tuning."""
    if config.task == "linprobe":
        return LARS(learning_rate, weight_decay=config.optim.weight_decay,
                    momentum=config.optim.momentum)
    return LayerDecayAdamW(learning_rate, depth=classifier.encoder_depth,
                           layer_decay=config.optim.layer_decay,
                           weight_decay=config.optim.weight_decay)


def run(config, workdir):
    """Fine-tune or probe as `config` says, writing checkpoints, logs and the classifier."""
    if config.num_cpu_devices > 1:
        split_cpu(config.num_cpu_devices)
    strategy = make_strategy(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy(config.mixed_precision)
    check_global_batch(config.batch_size, strategy)

    data, augment = config.data, config.augment

    def dataset(source, training):
        return make_classification_dataset(
            source, data.image_size, data.mean, data.std, config.batch_size, training,
            seed=config.seed, crop_scale=tuple(augment.crop_scale),
            rand_augment=augment.rand_augment, erase_probability=augment.erase_probability,
            mixup_alpha=augment.mixup_alpha, cutmix_alpha=augment.cutmix_alpha,
            label_smoothing=augment.label_smoothing, crop_fraction=augment.crop_fraction,
        )

    train_source = load_source(data, data.train, require_labels=True)
    train_ds = dataset(train_source, training=True)
    steps_per_epoch = config.steps_per_epoch or train_source.num_examples // config.batch_size
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    eval_source = load_source(data, data.eval, require_labels=True) if data.eval else None
    eval_ds = dataset(eval_source, training=False) if eval_source else None
    if eval_ds is not None and config.eval_steps:
        eval_ds = eval_ds.take(config.eval_steps)

    peak_lr = scaled_learning_rate(config.optim.base_lr, config.batch_size)
    logging.info("lr = base_lr %g x global batch %d / 256 = %g",
                 config.optim.base_lr, config.batch_size, peak_lr)
    with strategy.scope():
        classifier = build_classifier(config, train_source.num_classes)
        schedule = warmup_cosine(peak_lr, steps_per_epoch * config.epochs,
                                 steps_per_epoch * config.optim.warmup_epochs, config.optim.min_lr)
        classifier.compile(
            optimizer=make_optimizer(config, classifier, schedule),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                     keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy")],
            jit_compile=jit_compile_for(strategy, config.jit_compile),
            steps_per_execution=config.steps_per_execution,
        )
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        AtomicBackupAndRestore(str(workdir / "backup"), save_freq=config.backup_every_steps or "epoch"),
        keras.callbacks.ModelCheckpoint(str(workdir / "checkpoints" / "epoch_{epoch:03d}.keras")),
        keras.callbacks.TensorBoard(str(workdir / "tensorboard")),
    ]
    history = classifier.fit(
        train_ds, epochs=config.epochs,
        steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
        validation_data=eval_ds, callbacks=callbacks,
    )
    classifier.save(workdir / "model.keras")
    (workdir / "history.json").write_text(json.dumps(history.history, indent=2, default=float))
    if config.export_saved_model:
        export_saved_model(classifier, workdir / "saved_model", data.mean, data.std)
    return classifier, history
