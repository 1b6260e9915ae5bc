"""Every knob of a run, with its default and meaning. Files in `configs/` start from
`default_config()` (pretraining), `finetune_config()` or `linprobe_config()` and change what
their setup needs; `--config.a.b=value` overrides any field."""

import ml_collections

SOURCES = ("sample", "tfds", "folder")
NAN_POLICIES = ("stop", "skip")


def default_config():
    """The paper's pretraining recipe (appendix A.1) on the bundled sample's data settings."""
    config = ml_collections.ConfigDict()
    config.task = "pretrain"  # pretrain | finetune | linprobe | knn | evaluate: what train.py runs.
    # Pretrain the encoder of a checkpoint (.keras, .pth, HuggingFace or keras-hub preset folder)
    # with a fresh decoder of model.preset; "" = a new encoder of model.preset.
    config.init_checkpoint = ""

    config.model = ml_collections.ConfigDict()
    config.model.preset = "mae_vit_base_patch16"  # Architecture; see keras_mae.list_presets().
    config.model.mask_ratio = 0.75  # Fraction of patches removed per image (paper: 0.75).
    config.model.norm_pix_loss = True  # Targets normalised per patch (paper's default recipe).
    config.model.remat = False  # Recompute blocks in the backward pass: less memory, slower steps.
    # The paper's ablations (table 1):
    config.model.decoder_num_layers = -1  # Decoder blocks: -1 the preset's; 0 one linear layer.
    config.model.mask_token_in_encoder = False  # BERT's mask tokens in the encoder (table 1c).
    config.model.loss_on = "masked"  # Loss on the "masked" patches (paper) or on "all".

    config.data = ml_collections.ConfigDict()
    config.data.source = "sample"  # "sample" (bundled Fashion-MNIST), "tfds" or "folder".
    config.data.tfds_name = ""  # TFDS name for source "tfds", e.g. "cifar10".
    config.data.tfds_data_dir = ""  # TFDS data_dir; "" = TFDS' default (~/tensorflow_datasets).
    config.data.tfds_download = True  # Let TFDS download and prepare the data set if missing.
    config.data.train = "train"  # Training split (sample/tfds) or folder path (folder).
    config.data.eval = "validation"  # Held-out split or folder; "" for none.
    config.data.image_size = (28, 28)  # (height, width) the model sees.
    config.data.num_channels = 1  # 1 (grey) or 3 (RGB); decoded images are converted to it.
    config.data.mean = (0.2860,)  # Per-channel mean of the data in 0..1, for normalisation.
    config.data.std = (0.3530,)  # Per-channel std of the data in 0..1.
    # An init_checkpoint that is a keras-hub preset brings its image converter's mean and std:
    # True uses them instead of data.mean/std; False keeps the config's.
    config.data.preset_normalization = True
    config.data.crop_scale = (0.2, 1.0)  # RandomResizedCrop area range (paper: 0.2-1).

    config.optim = ml_collections.ConfigDict()
    config.optim.base_lr = 1.5e-4  # lr = base_lr * global_batch / 256.
    config.optim.lr = 0.0  # An absolute lr instead (the reference's --lr); 0 = from base_lr.
    config.optim.min_lr = 0.0  # Floor of the cosine schedule.
    config.optim.weight_decay = 0.05  # AdamW decay, on every weight but norms and biases.
    config.optim.beta_1 = 0.9  # AdamW first-moment decay (paper: 0.9).
    config.optim.beta_2 = 0.95  # AdamW second-moment decay (paper: 0.95, not 0.999).
    config.optim.warmup_epochs = 40  # Linear warmup length (paper: 40 of 800).
    config.optim.clip_grad = 0.0  # Clip the gradients' global norm (--clip_grad); 0 = off.

    config.batch_size = 4096  # Global batch of one step, over all replicas (paper: 4096).
    # Steps whose gradients one update averages (the reference's --accum_iter): the effective
    # batch, which the lr follows, is batch_size x grad_accum_steps.
    config.grad_accum_steps = 1
    config.epochs = 800  # Passes over the training data (paper: 800 or 1600 for pretraining).
    config.steps_per_epoch = 0  # Steps per epoch; 0 = one pass over the training data.
    config.eval_steps = 0  # Held-out batches per evaluation; 0 = the whole held-out split.
    config.seed = 0  # Seeds weights, masking, shuffling and augmentation.
    config.jit_compile = True  # XLA: the whole step on one device, each replica's pass on several.
    config.steps_per_execution = 1  # Training steps per compiled call.
    config.mixed_precision = ""  # "", "mixed_bfloat16" (TPU, CPU) or "mixed_float16" (GPU).
    config.backup_every_steps = 0  # Resumable backup every N steps; 0 = at each epoch's end.
    config.keep_checkpoints = 0  # Newest per-epoch .keras checkpoints kept; 0 = all.
    config.nan_policy = "stop"  # Step with a NaN/Inf loss: "stop" the run, or "skip" the step.

    config.strategy = "auto"  # auto | one_device | mirrored | multi_worker | tpu.
    config.tpu = ""  # TPU name or grpc:// address; "local" on a TPU VM; "" = $TPU_NAME.
    config.tpu_zone = ""  # GCP zone of the TPU, if it is named.
    config.tpu_project = ""  # GCP project of the TPU, if it is named.
    config.num_cpu_devices = 0  # >1 splits the CPU into logical devices (tests, no GPU).
    config.num_figure_images = 8  # Images in the reconstruction figure (0: no figure).
    config.figure_every_epochs = 1  # Draw the figure (PNG + TensorBoard image) every N epochs.

    config.knn = ml_collections.ConfigDict()  # Weighted k-NN of the encoder's features.
    config.knn.every_epochs = 0  # Pretraining: k-NN every N epochs (and the last); 0 = off.
    config.knn.bank_size = 10_000  # Labelled training images in the memory bank; 0 = all.
    # For training images without labels, the monitor's labelled images:
    config.knn.train = ""  # The bank's: a split, or a class-per-folder path; "" = data.train.
    config.knn.eval = ""  # The queries': a split or a folder; "" = data.eval.
    config.knn.k = 20  # Neighbours (InstDisc / DINO: 20).
    config.knn.temperature = 0.07  # Softness of the neighbours' votes.
    config.export_saved_model = True  # Write <workdir>/saved_model for serving at the end.
    return config


def use_cifar10(config):
    """CIFAR-10 data settings: 32x32 RGB from class folders (or TFDS "cifar10" with
    --config.data.source=tfds --config.data.train=train --config.data.eval=test)."""
    config.data.source = "folder"
    config.data.tfds_name = "cifar10"
    config.data.train = "cifar10/train"
    config.data.eval = "cifar10/test"
    config.data.image_size = (32, 32)
    config.data.num_channels = 3
    config.data.mean = (0.4914, 0.4822, 0.4465)
    config.data.std = (0.2470, 0.2435, 0.2616)
    return config


def use_imagenet(config):
    """ImageNet-1k data settings: 224x224 RGB from TFDS "imagenet2012", prepared by hand."""
    config.data.source = "tfds"
    config.data.tfds_name = "imagenet2012"
    config.data.tfds_download = False  # ImageNet must be downloaded manually (TFDS docs).
    config.data.train = "train"
    config.data.eval = "validation"
    config.data.image_size = (224, 224)
    config.data.num_channels = 3
    config.data.mean = (0.485, 0.456, 0.406)
    config.data.std = (0.229, 0.224, 0.225)
    return config


def finetune_config():
    """The paper's end-to-end fine-tuning recipe (appendix A.2, ViT-B: 100 epochs, lr 5e-4 x
    batch / 256, layer decay 0.65; ViT-L/H: 50 epochs, 1e-3, 0.75) from a pretrained encoder."""
    config = _evaluation_config("finetune")
    config.model.pooling = "avg"  # "avg": mean patch token + fc_norm (paper); "cls".
    config.model.drop_path_rate = 0.1  # Stochastic depth of the last block (ViT-L 0.2, ViT-H 0.3).
    config.optim.base_lr = 5e-4
    config.optim.layer_decay = 0.65  # lr x layer_decay ** (layers above); ViT-L/H: 0.75.
    config.optim.weight_decay = 0.05
    config.optim.min_lr = 1e-6
    config.optim.warmup_epochs = 5
    config.batch_size = 1024
    config.epochs = 100
    config.augment.crop_scale = (0.08, 1.0)  # RandomResizedCrop area range of training images.
    # RandAugment: a timm policy (the reference's: 2 of 15 ops, magnitude 9 +- 0.5, mean-colour
    # fill), "keras_cv" for keras-cv's layer, "" for none.
    config.augment.rand_augment = "rand-m9-mstd0.5-inc1"
    config.augment.erase_probability = 0.25  # Random erasing.
    config.augment.mixup_alpha = 0.8  # 0 = off.
    config.augment.cutmix_alpha = 1.0  # 0 = off; with mixup, one of the two per group.
    config.augment.mixup_prob = 1.0  # Probability that a group is mixed at all.
    config.augment.mixup_switch_prob = 0.5  # With both on: probability of cutmix.
    # Images per mixing draw: one ratio, mixup-or-cutmix choice and box per group, each group
    # mixed with itself reversed (the reference's batch of 32 per GPU).
    config.augment.mix_group_size = 32
    # (min, max) fractions of the sides of cutmix's box, instead of its alpha; () = off.
    config.augment.cutmix_minmax = ()
    config.augment.label_smoothing = 0.1  # Share of a label's weight spread over all classes.
    return config


def linprobe_config():
    """The paper's linear probing (appendix A.3): a BatchNorm + linear head on the frozen
    encoder's cls token, LARS with lr 0.1 x batch / 256, no weight decay, 90 epochs."""
    config = _evaluation_config("linprobe")
    config.model.pooling = "cls"
    config.model.drop_path_rate = 0.0
    config.optim.base_lr = 0.1
    config.optim.weight_decay = 0.0
    config.optim.momentum = 0.9  # LARS momentum.
    config.optim.warmup_epochs = 10
    config.batch_size = 16384
    config.epochs = 90
    config.augment.crop_scale = (0.08, 1.0)
    config.augment.rand_augment = ""
    config.augment.erase_probability = 0.0
    config.augment.mixup_alpha = 0.0
    config.augment.cutmix_alpha = 0.0
    config.augment.mixup_prob = 1.0
    config.augment.mixup_switch_prob = 0.5
    config.augment.mix_group_size = 32
    config.augment.cutmix_minmax = ()
    config.augment.label_smoothing = 0.0
    return config


def knn_config():
    """Weighted k-NN top-1 of a pretrained encoder (task "knn"): the training images are the
    memory bank, the held-out ones are classified; no training. Without `init_checkpoint`, the
    encoder of `model.preset` at random initialisation (seeded by `seed`)."""
    config = default_config()
    config.task = "knn"
    config.init_checkpoint = ""  # The encoder: a .keras file, an official .pth or a HF folder.
    config.batch_size = 256  # Images per forward pass.
    del config.export_saved_model  # A k-NN evaluation or an evaluation trains no model.
    config.knn.bank_size = 0
    _delete_pretraining_model_fields(config)
    del config.data.crop_scale, config.knn.every_epochs, config.optim, config.epochs
    del config.knn.train, config.knn.eval  # The task's bank and queries are data.train/eval.
    del config.grad_accum_steps
    del config.num_figure_images, config.figure_every_epochs
    return config


def evaluate_config():
    """Top-1 and top-5 of a classifier on the held-out images (task "evaluate"), as the
    reference's `main_finetune.py --eval`: `init_checkpoint` is a fine-tuned classifier (a
    `.keras` file or a released `mae_finetuned_*.pth`)."""
    config = knn_config()
    config.task = "evaluate"
    # The classifier: a fine-tuned .keras file or a released mae_finetuned_*.pth.
    config.init_checkpoint = ""
    del config.knn
    config.augment = ml_collections.ConfigDict()
    config.augment.crop_fraction = 0.875  # Held-out images: centre crop of this share (224/256).
    return config


TASK_CONFIGS = {"pretrain": default_config, "finetune": finetune_config,
                "linprobe": linprobe_config, "knn": knn_config, "evaluate": evaluate_config}


def _evaluation_config(task):
    """The fields fine-tuning and probing share; data, scaling and run fields as pretraining."""
    config = default_config()
    config.task = task
    config.init_checkpoint = ""  # The pretrained MAE: a .keras file, an official .pth or a HF folder.
    _delete_pretraining_model_fields(config)
    del config.data.crop_scale
    config.optim = ml_collections.ConfigDict()
    config.optim.lr = 0.0  # An absolute lr instead (the reference's --lr); 0 = from base_lr.
    config.optim.min_lr = 0.0  # Floor of the cosine schedule.
    config.optim.clip_grad = 0.0  # Clip the gradients' global norm (--clip_grad); 0 = off.
    config.augment = ml_collections.ConfigDict()
    config.augment.crop_fraction = 0.875  # Held-out images: centre crop of this share (224/256).
    del config.num_figure_images, config.figure_every_epochs  # Pretraining's figure.
    del config.knn
    return config


def _delete_pretraining_model_fields(config):
    """Evaluations take the encoder of a checkpoint (or a preset's): no MAE fields."""
    for field in ("mask_ratio", "norm_pix_loss", "remat", "decoder_num_layers",
                  "mask_token_in_encoder", "loss_on"):
        del config.model[field]
