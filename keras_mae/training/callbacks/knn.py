"""Weighted k-NN top-1 of the encoder's features (InstDisc / DINO): the cheap curve that tells,
during pretraining, whether the encoder is learning anything, long before a fine-tuning run would.
"""

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_mae.xla import compiled_features


def weighted_knn_top1(bank_features, bank_labels, query_features, query_labels, num_classes,
                      k=20, temperature=0.07, chunk_size=1024):
    """Top-1 accuracy of the weighted k-NN classifier of DINO's `knn_classifier` (eval_knn.py).

    Each query's k most cosine-similar bank features vote for their class with weight
    exp(similarity / temperature); the class with the largest sum is the prediction. Queries are
    processed `chunk_size` at a time, so that memory grows with the bank, not bank x queries.

    Args:
        bank_features: [N, D] features of the labelled memory bank.
        bank_labels: [N] int class of each bank feature.
        query_features: [M, D] features to classify.
        query_labels: [M] int true class of each query.
        num_classes: number of classes; labels are in [0, num_classes).
        k: number of neighbours; the bank size if it is smaller.
        temperature: softness of the vote weights.
        chunk_size: number of queries compared to the bank at once.

    Returns:
        The fraction of queries whose prediction is their label, a float in [0, 1].
    """
    bank = tf.math.l2_normalize(tf.cast(bank_features, tf.float32), axis=1)
    queries = tf.math.l2_normalize(tf.cast(query_features, tf.float32), axis=1)
    bank_labels = tf.cast(bank_labels, tf.int32)
    query_labels = tf.cast(query_labels, tf.int32)
    num_queries = int(queries.shape[0])
    if int(bank.shape[0]) == 0 or num_queries == 0:
        raise ValueError("weighted_knn_top1 needs a non-empty bank and at least one query.")
    k = min(k, int(bank.shape[0]))
    correct = 0
    for start in range(0, num_queries, chunk_size):
        similarity = tf.matmul(queries[start:start + chunk_size], bank, transpose_b=True)
        top_similarity, indices = tf.math.top_k(similarity, k=k)  # [chunk, k]
        votes = tf.one_hot(tf.gather(bank_labels, indices), num_classes)  # [chunk, k, C]
        weights = tf.exp(top_similarity / temperature)[:, :, None]
        scores = tf.reduce_sum(votes * weights, axis=1)  # [chunk, C]
        predictions = tf.argmax(scores, axis=1, output_type=tf.int32)
        hits = tf.equal(predictions, query_labels[start:start + chunk_size])
        correct += int(tf.reduce_sum(tf.cast(hits, tf.int32)))
    return correct / num_queries


def extract_features(model, dataset, forward=None):
    """Features of every image of `dataset`, from `model.features` (no masking, no training).

    Args:
        model: a model whose `features(images)` returns {"cls_token": [B, D], "pooled": [B, D]}.
        dataset: finite tf.data dataset of (normalised float32 images [B, H, W, C], int labels [B]).
        forward: a `tf.function` of `model.features` to reuse between calls, so that repeated
            calls trace nothing again; made for this call if None.

    Returns:
        ({"cls_token": float32 [N, D], "pooled": float32 [N, D]}, int64 labels [N]) as NumPy.
    """
    forward = forward or tf.function(model.features, reduce_retracing=True)
    features = {"cls_token": [], "pooled": []}
    labels = []
    for images, batch_labels in dataset:
        outputs = forward(images)
        for name, chunks in features.items():
            chunks.append(tf.cast(outputs[name], tf.float32).numpy())
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    features = {name: np.concatenate(chunks) for name, chunks in features.items()}
    return features, np.concatenate(labels)


def knn_top1(model, bank_dataset, query_dataset, num_classes, k=20, temperature=0.07,
             forward=None):
    """{"knn_top1": on the mean patch token, "knn_top1_cls": on the cls token} of `model`'s
    features, the queries classified against the bank (see `weighted_knn_top1`)."""
    bank, bank_labels = extract_features(model, bank_dataset, forward)
    query, query_labels = extract_features(model, query_dataset, forward)
    top1 = {
        name: weighted_knn_top1(bank[name], bank_labels, query[name], query_labels,
                                num_classes, k, temperature)
        for name in ("pooled", "cls_token")
    }
    return {"knn_top1": top1["pooled"], "knn_top1_cls": top1["cls_token"]}


class KNNMonitor(keras.callbacks.Callback):
    """Every `every_n_epochs` epochs and after the last, logs the weighted k-NN top-1 of the
    query set against the bank, on the mean patch token (`knn_top1`) and on the cls token
    (`knn_top1_cls`). The values go into the epoch's `logs`, so History, the progress bar,
    TensorBoard and later callbacks see them. Only the forward pass runs: no weight changes.

    Args:
        bank_dataset: finite tf.data dataset of (normalised images, int labels) batches, a fixed
            labelled subset of the training set without augmentation: the memory bank.
        query_dataset: the same for the held-out images to classify.
        num_classes: number of classes.
        every_n_epochs: how often to evaluate (the last epoch always is).
        k: number of neighbours.
        temperature: softness of the vote weights.
    """

    def __init__(self, bank_dataset, query_dataset, num_classes, every_n_epochs=5, k=20,
                 temperature=0.07):
        super().__init__()
        self.bank_dataset = bank_dataset
        self.query_dataset = query_dataset
        self.num_classes = num_classes
        self.every_n_epochs = every_n_epochs
        self.k = k
        self.temperature = temperature
        self._forward = None

    def set_model(self, model):
        super().set_model(model)
        # One tf.function per model, so that each evaluation reuses the traced graph.
        self._forward = compiled_features(model)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every_n_epochs and done != self.params.get("epochs"):
            return
        top1 = knn_top1(self.model, self.bank_dataset, self.query_dataset, self.num_classes,
                        self.k, self.temperature, self._forward)
        logging.info("epoch %d: k-NN top-1 %.4f (mean patch token), %.4f (cls token)",
                     done, top1["knn_top1"], top1["knn_top1_cls"])
        if logs is not None:
            logs.update(top1)
