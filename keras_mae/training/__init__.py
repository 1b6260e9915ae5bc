"""Training runs from a config: pretraining, fine-tuning and linear probing with `model.fit`,
under any `tf.distribute` strategy, resumable, with the checks and callbacks they share."""

from keras_mae.training import evaluate, pretrain

TASKS = {
    "pretrain": pretrain.pretrain,
    "finetune": evaluate.train_classifier,
    "linprobe": evaluate.train_classifier,
    "knn": evaluate.knn_evaluation,
    "evaluate": evaluate.evaluate_classifier,
}


def run_task(config, workdir):
    """Run the task `config.task` names; returns (model, its history or result)."""
    return TASKS[config.task](config, workdir)
