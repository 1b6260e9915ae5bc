"""Evaluating a pretrained encoder: as the paper does (section 4), by end-to-end fine-tuning
and linear probing of a `ViTClassifier` with `model.fit`; and by weighted k-NN of its features,
which needs no training.

`train.py` runs `train_classifier` for `config.task` "finetune" and "linprobe"; the task picks
the recipe (model head, optimiser, augmentation), one code path for both.
"""

import json

import keras
from absl import logging

from keras_mae import storage
from keras_mae.data import labelled_batches
from keras_mae.data.classification import make_classification_dataset
from keras_mae.errors import InputError
from keras_mae.loading import load
from keras_mae.models import ViTBackbone, ViTClassifier
from keras_mae.models.presets import preset_arguments
from keras_mae.optimizers import LARS, LayerDecayAdamW
from keras_mae.training import runner
from keras_mae.training.callbacks.knn import knn_top1
from keras_mae.training.checks import check_config


def pretrained_backbone(config):
    """The backbone to evaluate: the pretrained one of `init_checkpoint` (its architecture is
    the checkpoint's), or without it a fresh one of `model.preset` (the supervised baseline)."""
    if not config.init_checkpoint:
        arguments, _ = preset_arguments(config.model.preset,
                                        image_size=tuple(config.data.image_size),
                                        num_channels=config.data.num_channels)
        return ViTBackbone(**arguments, name="backbone")
    model = load(config.init_checkpoint)
    backbone = getattr(model, "backbone", model)
    if backbone.num_channels != config.data.num_channels:
        raise InputError(
            f"The pretrained model {config.init_checkpoint} takes images with "
            f"{backbone.num_channels} channel(s), the config gives {config.data.num_channels}: "
            "set --config.data.num_channels to the model's."
        )
    if backbone.image_size != tuple(config.data.image_size):  # e.g. fine-tuning at 448
        backbone = backbone.resized(tuple(config.data.image_size))
    return backbone


def build_classifier(config, num_classes):
    """The classifier to train on the task's backbone: fine-tuning learns the position table and
    drops paths (the reference's fine-tuned ViT); probing freezes the backbone and puts a
    BatchNorm before the head."""
    probing = config.task == "linprobe"
    backbone = pretrained_backbone(config).clone(
        drop_path_rate=config.model.drop_path_rate, trainable_pos_embed=not probing, remat=False,
    )
    return ViTClassifier(backbone, num_classes, pooling=config.model.pooling,
                         head_batch_norm=probing, freeze_backbone=probing)


def make_optimizer(config, classifier, learning_rate, **options):
    """LARS on the head for probing; AdamW with layer-wise lr decay for fine-tuning. `options`
    go to Keras' optimizer (accumulation, clipping)."""
    if config.task == "linprobe":
        return LARS(learning_rate, weight_decay=config.optim.weight_decay,
                    momentum=config.optim.momentum, **options)
    return LayerDecayAdamW(learning_rate, num_layers=classifier.backbone.num_layers,
                           layer_decay=config.optim.layer_decay,
                           weight_decay=config.optim.weight_decay, **options)


def train_classifier(config, workdir, allow_config_change=False):
    """Fine-tune (task "finetune") or linearly probe (task "linprobe") as `config` says, writing
    checkpoints, logs and the classifier to `workdir`.

    Checks, resume (and `allow_config_change`), the NaN/Inf stop, Ctrl-C and multi-worker
    writing are as for pretraining.
    """
    job = runner.prepare(config, workdir, require_labels=True,
                         allow_config_change=allow_config_change)
    data, augment = config.data, config.augment

    def dataset(source, training, **epochs):
        return make_classification_dataset(
            source, data.image_size, data.mean, data.std, config.batch_size, training,
            seed=config.seed, crop_scale=tuple(augment.crop_scale),
            rand_augment_policy=augment.rand_augment,
            erase_probability=augment.erase_probability,
            mixup_alpha=augment.mixup_alpha, cutmix_alpha=augment.cutmix_alpha,
            mixup_prob=augment.mixup_prob, mixup_switch_prob=augment.mixup_switch_prob,
            mix_group_size=augment.mix_group_size,
            cutmix_minmax=tuple(augment.cutmix_minmax) or None,
            label_smoothing=augment.label_smoothing, crop_fraction=augment.crop_fraction,
            crop_sampler="probe" if config.task == "linprobe" else "torchvision",
            **epochs,
        )

    def train_data(**epochs):
        return dataset(job.train_source, True, steps_per_epoch=job.steps_per_epoch, **epochs)

    eval_ds = dataset(job.eval_source, training=False) if job.eval_source else None
    with job.strategy.scope():
        classifier = build_classifier(config, job.train_source.num_classes)
        classifier.compile(
            optimizer=make_optimizer(config, classifier, job.learning_rate_schedule(),
                                     **job.optimizer_options()),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                     keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy")],
            **job.compile_options(),
        )
    history = runner.fit(job, classifier, train_data, eval_ds)
    runner.finish(job, classifier, history)
    return classifier, history


def knn_evaluation(config, workdir):
    """Weighted k-NN top-1 of the encoder (task "knn"): every training image (or a fixed random
    `knn.bank_size` of them) is the memory bank, the held-out images are classified. Writes
    `knn.json` and `config.json` to `workdir` and returns (the encoder, the result)."""
    storage.check_file_system(workdir)
    runner.adopt_preset_normalization(config)
    check_config(config)
    keras.utils.set_random_seed(config.seed)  # the random encoder, without init_checkpoint
    train_source, eval_source = runner.load_sources(config, require_labels=True)
    if eval_source is None:
        raise InputError("The k-NN evaluation classifies the held-out images: set "
                         "--config.data.eval.")
    data = config.data

    def batches(source, count=0):
        return labelled_batches(source, data.image_size, data.mean, data.std, config.batch_size,
                                count=count, seed=config.seed)

    backbone = pretrained_backbone(config)
    result = knn_top1(backbone, batches(train_source, config.knn.bank_size),
                      batches(eval_source), train_source.num_classes, config.knn.k,
                      config.knn.temperature)
    result.update(bank_size=min(config.knn.bank_size or train_source.num_examples,
                                train_source.num_examples),
                  queries=eval_source.num_examples, k=config.knn.k,
                  temperature=config.knn.temperature)
    logging.info("k-NN top-1 %.4f (mean patch token), %.4f (cls token)",
                 result["knn_top1"], result["knn_top1_cls"])
    write_result(workdir, config, "knn.json", result)
    return backbone, result


def evaluate_classifier(config, workdir):
    """Top-1 and top-5 of the classifier `init_checkpoint` on the held-out images, centre-
    cropped as in fine-tuning (task "evaluate"). Writes `evaluation.json` and `config.json` to
    `workdir`."""
    storage.check_file_system(workdir)
    check_config(config)
    if not config.init_checkpoint:
        raise InputError("The evaluation needs a classifier: --config.init_checkpoint=<a "
                         "fine-tuned .keras file or a released mae_finetuned_*.pth>.")
    _, eval_source = runner.load_sources(config, require_labels=True, fields=("eval",))
    if eval_source is None:
        raise InputError("The evaluation classifies the held-out images: set "
                         "--config.data.eval.")
    classifier = load(config.init_checkpoint, expect=ViTClassifier)
    data = config.data
    dataset = make_classification_dataset(
        eval_source, data.image_size, data.mean, data.std, config.batch_size, training=False,
        crop_fraction=config.augment.crop_fraction)
    classifier.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                       metrics=[keras.metrics.CategoricalAccuracy(name="top1"),
                                keras.metrics.TopKCategoricalAccuracy(5, name="top5")])
    result = classifier.evaluate(dataset, return_dict=True, verbose=1)
    result["images"] = eval_source.num_examples
    logging.info("top-1 %.4f, top-5 %.4f on %d images", result["top1"], result["top5"],
                 result["images"])
    write_result(workdir, config, "evaluation.json", result)
    return classifier, result


def write_result(workdir, config, name, result):
    """An evaluation's `result` as `workdir/name`, beside the `config.json` it ran with (as
    every training run writes one); `workdir` may be a URL."""
    storage.makedirs(workdir)
    storage.write_text(storage.join(workdir, "config.json"), config.to_json_best_effort(indent=2))
    storage.write_text(storage.join(workdir, name), json.dumps(result, indent=2))
