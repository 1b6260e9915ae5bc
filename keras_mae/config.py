"""Every knob of a pretraining run, with its default and meaning. Files in `configs/` start from
`default_config()` and change what their setup needs; `--config.a.b=value` overrides any field."""

import ml_collections


def default_config():
    """The paper's pretraining recipe (appendix A.1) on the bundled sample's data settings."""
    config = ml_collections.ConfigDict()

    config.model = ml_collections.ConfigDict()
    config.model.preset = "mae_vit_base_patch16"  # Architecture; see keras_mae.list_presets().
    config.model.mask_ratio = 0.75  # Fraction of patches removed per image (paper: 0.75).
    config.model.norm_pix_loss = True  # Targets normalised per patch (paper's default recipe).

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
    config.data.crop_scale = (0.2, 1.0)  # RandomResizedCrop area range (paper: 0.2-1).

    config.optim = ml_collections.ConfigDict()
    config.optim.base_lr = 1.5e-4  # lr = base_lr * global_batch / 256.
    config.optim.min_lr = 0.0  # Floor of the cosine schedule.
    config.optim.weight_decay = 0.05  # AdamW decay, not on norms, biases, tokens.
    config.optim.beta_1 = 0.9
    config.optim.beta_2 = 0.95
    config.optim.warmup_epochs = 40  # Linear warmup length (paper: 40 of 800).

    config.batch_size = 4096  # Global batch over all replicas (paper: 4096).
    config.epochs = 800  # Pretraining epochs (paper: 800 or 1600).
    config.steps_per_epoch = 0  # 0 = one pass over the training data.
    config.eval_steps = 0  # 0 = the whole held-out split.
    config.seed = 0  # Seeds weights, masking, shuffling and augmentation.
    config.jit_compile = True  # XLA-compile the training step (where TF can; see README).
    config.steps_per_execution = 1  # Training steps per compiled call.
    config.mixed_precision = ""  # "", "mixed_bfloat16" (TPU, CPU) or "mixed_float16" (GPU).
    config.backup_every_steps = 0  # Resumable backup every N steps; 0 = at each epoch's end.

    config.strategy = "auto"  # auto | one_device | mirrored | multi_worker | tpu.
    config.tpu = ""  # TPU name or grpc:// address; "local" on a TPU VM; "" = $TPU_NAME.
    config.tpu_zone = ""  # GCP zone of the TPU, if it is named.
    config.tpu_project = ""  # GCP project of the TPU, if it is named.
    config.num_cpu_devices = 0  # >1 splits the CPU into logical devices (tests, no GPU).
    config.num_figure_images = 8  # Images in the reconstruction figure.
    config.figure_every_epochs = 1  # Draw the figure (PNG + TensorBoard image) every N epochs.
    config.export_saved_model = True  # Write <workdir>/saved_model for serving at the end.
    return config
