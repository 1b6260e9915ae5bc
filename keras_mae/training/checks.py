"""Checks a run makes before it spends time: every mistake knowable from the config
or the machine is refused up front, naming the value and what to do instead."""

import difflib
import functools
import pathlib
import re
import shutil

import ml_collections
import tensorflow as tf

from keras_mae import storage
from keras_mae.data.classification import KERAS_CV
from keras_mae.data.rand_augment import parse_policy
from keras_mae.errors import InputError
from keras_mae.layers.masking import num_visible
from keras_mae.layers.patching import check_patch_grid, image_size_pair
from keras_mae.models.classifier import POOLINGS
from keras_mae.models.masked_autoencoder import LOSS_ON
from keras_mae.models.presets import preset_arguments
from keras_mae.training.config import NAN_POLICIES, SOURCES, TASK_CONFIGS

_FLOAT32_BYTES = 4
_FILE_OVERHEAD = 2**20  # A .keras or .h5 file's structure, above its float32 arrays.
_BACKUP_COPIES = 3  # Two kept backups and the one being written.


def check_config(config):
    """Field names, choices, sizes, mask ratio, channels, normalisation and the pretrained
    checkpoint of a run config."""
    _check_choice("task", config.task, tuple(TASK_CONFIGS))
    check_fields(config, TASK_CONFIGS[config.task]())
    _check_choice("data.source", config.data.source, SOURCES)
    _check_choice("nan_policy", config.nan_policy, NAN_POLICIES)
    if config.nan_policy == "skip" and config.task != "pretrain":
        raise InputError(
            "nan_policy 'skip' is for pretraining; fine-tuning and probing stop at a NaN or Inf "
            "loss (--config.nan_policy=stop)."
        )
    if config.task in ("finetune", "linprobe"):
        _check_choice("model.pooling", config.model.pooling, POOLINGS)
    if config.task == "pretrain":
        _check_choice("model.loss_on", config.model.loss_on, LOSS_ON)
    fields = field_paths(config)
    for name, least in (("batch_size", 1), ("epochs", 1), ("figure_every_epochs", 1),
                        ("grad_accum_steps", 1), ("optim.clip_grad", 0),
                        ("knn.k", 1), ("knn.every_epochs", 0), ("knn.bank_size", 0),
                        ("augment.mix_group_size", 1)):
        value = functools.reduce(getattr, name.split("."), config) if name in fields else least
        if value < least:
            raise InputError(f"{name} must be at least {least}, got {value} (--config.{name}).")
    policy = config.augment.get("rand_augment", "") if "augment" in config else ""
    if policy and policy != KERAS_CV:
        parse_policy(policy)
    minmax = tuple(config.augment.get("cutmix_minmax", ())) if "augment" in config else ()
    if minmax and not (len(minmax) == 2 and 0 <= minmax[0] < minmax[1] <= 1):
        raise InputError(
            f"augment.cutmix_minmax must be () or (min, max) with 0 <= min < max <= 1, got "
            f"{minmax} (e.g. --config.augment.cutmix_minmax='(0.2, 0.8)')."
        )
    accumulation = config.get("grad_accum_steps", 1)
    if config.get("steps_per_epoch") and config.steps_per_epoch % accumulation:
        raise InputError(
            f"steps_per_epoch {config.steps_per_epoch} is not a whole number of updates of "
            f"grad_accum_steps={accumulation} batches: use a multiple of {accumulation}."
        )
    init = config.get("init_checkpoint")
    if init and not pathlib.Path(init).exists():
        raise InputError(
            f"init_checkpoint {init!r} does not exist. Pass a pretrained MAE: a .keras file "
            "(e.g. runs/<run>/model.keras), an official .pth or a HuggingFace folder."
        )
    if not init:  # A pretrained model brings its own architecture, checked when it loads.
        patch_size = architecture(config)["patch_size"]
        grid = check_patch_grid(image_size_pair(config.data.image_size), patch_size)
        if "mask_ratio" in config.model:
            num_visible(grid[0] * grid[1], config.model.mask_ratio)
    _check_normalisation(config.data)


def check_fields(config, reference):
    """Every field of `config` exists in `reference` (the defaults): a misspelt field in a config
    file would otherwise be silently ignored."""
    known = field_paths(reference)
    for path in field_paths(config):
        if path not in known:
            raise InputError(f"Unknown config field {path!r}.{_close_field(path, known)}")


def check_overrides(arguments, configs=None):
    """Every `--config.a.b=value` among command-line `arguments` names a field of one of
    `configs` (by default every task's: the task's own config cannot be loaded when an override
    fails, so train.py checks against all tasks first, then against its config file's)."""
    configs = configs or [task_config() for task_config in TASK_CONFIGS.values()]
    known = sorted({path for config in configs for path in field_paths(config)})
    for argument in arguments:
        match = re.match(r"--config\.([\w.]+)", argument)
        if match and match.group(1) not in known:
            raise InputError(
                f"Unknown config field {match.group(1)!r} in "
                f"{argument.split('=')[0]}.{_close_field(match.group(1), known, 'config')}"
            )


def field_paths(config, prefix=""):
    """Dotted paths of every field of a ConfigDict, nested ones too: ["model", "model.preset"]."""
    paths = []
    for key in config.keys():
        paths.append(prefix + key)
        if isinstance(config[key], ml_collections.ConfigDict):
            paths += field_paths(config[key], f"{prefix}{key}.")
    return paths


def flat_values(tree, prefix=""):
    """{dotted path: value} of the leaves of a nested dict (a config's `to_dict()`, or its
    config.json read back)."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flat_values(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _close_field(path, known, flag=None):
    close = difflib.get_close_matches(path, known, n=1)
    if not close:
        return " See keras_mae/training/config.py for every field."
    return f" Did you mean --{flag}.{close[0]}?" if flag else f" Did you mean {close[0]!r}?"


def architecture(config):
    """The flat constructor arguments of the model a run config describes (refuses unknown
    presets)."""
    decoder_num_layers = config.model.get("decoder_num_layers", -1)
    backbone, task = preset_arguments(
        config.model.preset,
        image_size=image_size_pair(config.data.image_size),
        num_channels=config.data.num_channels,
        **({"decoder_num_layers": decoder_num_layers} if decoder_num_layers >= 0 else {}),
    )
    return {**backbone, **task}


def _check_choice(name, value, choices):
    if value not in choices:
        raise InputError(
            f"Unknown {name} {value!r}; use one of {', '.join(map(repr, choices))} "
            f"(--config.{name})."
        )


def _check_normalisation(data):
    channels = data.num_channels
    if channels < 1:
        raise InputError(f"data.num_channels must be at least 1, got {channels}.")
    for name in ("mean", "std"):
        values = tuple(data[name])
        if len(values) != channels:
            raise InputError(
                f"data.{name} has {len(values)} value(s) for {channels} channel(s) "
                f"(data.num_channels): give one per channel, e.g. --config.data.{name}="
                f"'{tuple(values[:1]) * channels}'."
            )
    if min(data.std) <= 0:
        raise InputError(f"data.std must be positive, got {tuple(data.std)}.")


def check_workdir(workdir, config):
    """The run can write to `workdir` (a local path or a URL of a file system TensorFlow has),
    and a local disk has room for what the run will write (a bucket's room is not known)."""
    storage.check_file_system(workdir)
    if not storage.is_url(workdir):
        _check_room(pathlib.Path(workdir), config)
    try:
        storage.makedirs(workdir)
        probe = storage.join(workdir, ".write_test")
        storage.write_text(probe, "")
        storage.remove(probe)
    except (OSError, tf.errors.OpError) as error:  # TensorFlow's: e.g. a bucket without access
        reason = error.strerror if isinstance(error, OSError) else error.message
        raise InputError(
            f"Cannot write to the work directory {storage.normalize(workdir)!r}: "
            f"{reason or error}. Choose another --workdir."
        ) from None


def _check_room(workdir, config):
    needed = run_bytes(config) - _bytes_under(workdir)
    free = shutil.disk_usage(_existing_ancestor(workdir)).free
    if needed > free:
        raise InputError(
            f"The run needs about {_gib(needed)} more on the disk of {str(workdir)!r} for its "
            f"checkpoints and backups, and {_gib(free)} is free. Free space, choose another "
            "--workdir, or keep fewer per-epoch checkpoints (--config.keep_checkpoints=N)."
        )


def run_bytes(config):
    """What a run writes, at most at once: the kept per-epoch checkpoints (and the one being
    written), the backups and the final model (and its SavedModel)."""
    checkpoints = min(config.keep_checkpoints or config.epochs, config.epochs) + 1
    final_copies = 2 if config.get("export_saved_model") else 1  # model.keras, SavedModel
    init = config.get("init_checkpoint")
    if init:  # Its weights, with AdamW's two moments: an upper bound without loading it.
        one_checkpoint = 3 * _disk_size(pathlib.Path(init)) + _FILE_OVERHEAD
    else:
        one_checkpoint = checkpoint_bytes(architecture(config))
    return one_checkpoint * (checkpoints + _BACKUP_COPIES + final_copies)


def _disk_size(path):
    """Bytes of a file, or of every file under a folder."""
    if path.is_dir():
        return sum(part.stat().st_size for part in path.rglob("*") if part.is_file())
    return path.stat().st_size


def checkpoint_bytes(arguments):
    """An upper bound on the size of one saved `MaskedAutoencoder(**arguments)` with its AdamW
    state: the weights and the optimizer's two moments in float32, and the file's structure."""
    return 3 * parameter_count(arguments) * _FLOAT32_BYTES + _FILE_OVERHEAD


def parameter_count(arguments):
    """The number of weights (trainable and the fixed position tables) of the
    `MaskedAutoencoder(**arguments)`, counted without building it."""
    return sum(parameter_counts(arguments).values())


def parameter_counts(arguments):
    """`parameter_count` in parts: {"encoder": n, "decoder": n, "position_tables": n}, the
    backbone's and the rest's (decoder, pixel prediction) weights apart from their sin-cos
    position tables, which are fixed unless `trainable_pos_embed`."""
    rows, cols = check_patch_grid(image_size_pair(arguments["image_size"]), arguments["patch_size"])
    tokens = rows * cols + 1
    patch = arguments["patch_size"] ** 2 * arguments["num_channels"]
    width, decoder_width = arguments["hidden_dim"], arguments["decoder_hidden_dim"]
    encoder = (
        patch * width + width  # patch embedding
        + width  # cls token
        + arguments["num_layers"] * _block_parameters(width, arguments["mlp_dim"])
        + 2 * width  # final norm
    )
    decoder = (
        width * decoder_width + decoder_width  # embedding
        + decoder_width  # mask token
        + arguments["decoder_num_layers"]
        * _block_parameters(decoder_width, arguments["decoder_mlp_dim"])
        + 2 * decoder_width  # final norm
        + decoder_width * patch + patch  # pixel prediction
    )
    return {"encoder": encoder, "decoder": decoder,
            "position_tables": tokens * (width + decoder_width)}


def _block_parameters(width, mlp_width):
    """Two LayerNorms, fused qkv and output projections, a two-layer MLP, all with biases."""
    return 4 * width * width + 2 * width * mlp_width + 9 * width + mlp_width


def _bytes_under(folder):
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def _existing_ancestor(path):
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _gib(num_bytes):
    return f"{num_bytes / 2**30:.1f} GiB"
