"""A command re-run into a work directory that holds a backup resumes that run. With another
config it would train the rest of the run on another schedule, batch, model or data than its
start: refused, naming each change, unless the user allows it.

Changes to where and how the run executes, or to what it records, never change what it learns,
and pass silently.
"""

import json

from absl import logging

from keras_mae import storage
from keras_mae.errors import InputError
from keras_mae.training.checks import flat_values

# Fields that change neither the weights a run ends with nor its schedule.
NEUTRAL_FIELDS = frozenset({
    "keep_checkpoints", "backup_every_steps", "eval_steps", "export_saved_model",
    "num_figure_images", "figure_every_epochs", "nan_policy", "jit_compile",
    "steps_per_execution", "strategy", "tpu", "tpu_zone", "tpu_project", "num_cpu_devices",
    "data.eval", "data.tfds_data_dir", "data.tfds_download",
})
NEUTRAL_GROUPS = ("knn.",)  # the k-NN monitor reads the encoder, never trains it


def check_resumed_config(config, workdir, epochs_done, allow=False):
    """Refuse to resume the run in `workdir` (its backup is `epochs_done` epochs in) with a
    config whose training fields differ from its `config.json`; with `allow`, log the changes
    and go on. Fields only one of the two configs has (another keras_mae version) are skipped."""
    saved = storage.join(workdir, "config.json")
    if not storage.exists(saved):
        return
    old = flat_values(json.loads(storage.read_text(saved)))
    new = flat_values(json.loads(config.to_json_best_effort()))
    changes = [path for path in sorted(old.keys() & new.keys())
               if old[path] != new[path] and not _neutral(path)]
    if not changes:
        return
    listed = ", ".join(f"{path} {json.dumps(old[path])} -> {json.dumps(new[path])}"
                       for path in changes)
    if allow:
        logging.warning("Resuming the run in %s with a changed config (--allow_config_change): "
                        "%s.", workdir, listed)
        return
    schedule = ""
    if "epochs" in changes:
        schedule = ("; the warmup-cosine lr schedule spans all the epochs: the "
                    f"{epochs_done} done followed the old one, the rest would follow the new "
                    f"one from its epoch {epochs_done} (the lr of a finished run, decayed to "
                    "min_lr, rises again)")
    raise InputError(
        f"{workdir} holds a run {epochs_done} epoch(s) in, of another config: {listed}"
        f"{schedule}. Pass --allow_config_change (from Python: allow_config_change=True) to "
        "resume it with the new values anyway, or "
        "choose another --workdir for a new run (or give the run's old values, in its "
        "config.json)."
    )


def _neutral(path):
    return path in NEUTRAL_FIELDS or path.startswith(NEUTRAL_GROUPS)
