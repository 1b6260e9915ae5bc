"""Training runs from a config: pretraining, fine-tuning and linear probing with `model.fit`,
under any `tf.distribute` strategy, resumable, with the checks and callbacks they share."""

from keras_mae.training import evaluate, pretrain
from keras_mae.training.task_config import EVALUATIONS

TASKS = {
    "pretrain": pretrain.pretrain,
    "finetune": evaluate.train_classifier,
    "linprobe": evaluate.train_classifier,
    "knn": evaluate.knn_evaluation,
    "evaluate": evaluate.evaluate_classifier,
}


def run_task(config, workdir, allow_config_change=False):
    """Run the task `config.task` names; returns (model, its history or result). A training
    task resumes the run in `workdir`, refused if its config changed unless
    `allow_config_change`; evaluations resume nothing."""
    if config.task in EVALUATIONS:
        return TASKS[config.task](config, workdir)
    return TASKS[config.task](config, workdir, allow_config_change=allow_config_change)
