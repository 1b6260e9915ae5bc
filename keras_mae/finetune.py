"""Evaluating a pretrained encoder as the paper does (section 4): end-to-end fine-tuning and
linear probing of a `ViTClassifier`, with `model.fit`, from a config.

`train.py` runs this for `config.task` "finetune" or "linprobe"; tests call `run` directly.
"""

import keras

from keras_mae import convert, runner
from keras_mae.checkpoints import load_model_file
from keras_mae.classifier import ViTClassifier
from keras_mae.data.classification import make_classification_dataset
from keras_mae.errors import InputError
from keras_mae.optimizers import LARS, LayerDecayAdamW


def load_pretrained(path):
    """A `MaskedAutoencoder` from a `.keras` file, an official `.pth` or a HuggingFace folder."""
    if str(path).endswith(".keras"):
        return load_model_file(path)
    return convert.load_checkpoint(path)


def build_classifier(config, num_classes):
    """The classifier to train: the pretrained encoder (its architecture is the checkpoint's),
    or without `init_checkpoint` a fresh one of `model.preset` (the supervised baseline), with
    the task's pooling and head."""
    probing = config.task == "linprobe"
    head = dict(pooling=config.model.pooling, drop_path_rate=config.model.drop_path_rate,
                head_batch_norm=probing, freeze_encoder=probing)
    if config.init_checkpoint:
        mae = load_pretrained(config.init_checkpoint)
        wanted = (*config.data.image_size, config.data.num_channels)
        if (*mae.image_size, mae.num_channels) != wanted:
            raise InputError(
                f"The pretrained model {config.init_checkpoint} takes images of "
                f"{mae.image_size[0]}x{mae.image_size[1]}x{mae.num_channels}, the config gives "
                f"{wanted[0]}x{wanted[1]}x{wanted[2]}: set --config.data.image_size and "
                "--config.data.num_channels to the model's."
            )
        classifier = ViTClassifier.from_pretrained(mae, num_classes, **head)
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
    """Fine-tune or probe as `config` says, writing checkpoints, logs and the classifier.

    Checks, resume, the NaN/Inf stop, Ctrl-C and multi-worker writing are as for pretraining.
    """
    job = runner.prepare(config, workdir, require_labels=True)
    data, augment = config.data, config.augment

    def dataset(source, training):
        return make_classification_dataset(
            source, data.image_size, data.mean, data.std, config.batch_size, training,
            seed=config.seed, crop_scale=tuple(augment.crop_scale),
            rand_augment=augment.rand_augment, erase_probability=augment.erase_probability,
            mixup_alpha=augment.mixup_alpha, cutmix_alpha=augment.cutmix_alpha,
            label_smoothing=augment.label_smoothing, crop_fraction=augment.crop_fraction,
        )

    train_ds = dataset(job.train_source, training=True)
    eval_ds = dataset(job.eval_source, training=False) if job.eval_source else None
    with job.strategy.scope():
        classifier = build_classifier(config, job.train_source.num_classes)
        classifier.compile(
            optimizer=make_optimizer(config, classifier, job.learning_rate_schedule()),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                     keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy")],
            **job.compile_options(),
        )
    history = runner.fit(job, classifier, train_ds, eval_ds)
    runner.finish(job, classifier, history)
    return classifier, history
