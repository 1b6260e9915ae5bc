"""The weighted k-NN monitor: the classifier against a NumPy reference, and the callback on a tiny
MAE (directly, through `fit`, and under MirroredStrategy)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mae
from keras_mae.data import from_arrays, from_folder, from_tfds, labelled_batches
from keras_mae.training.callbacks.knn import KNNMonitor, extract_features, weighted_knn_top1

NUM_CLASSES = 5
IMAGE_SHAPE = (16, 16, 3)


def _tiny_model():
    """A tiny MAE on 16x16 RGB images: the one place that knows the model's constructor."""
    backbone = keras_mae.ViTBackbone(image_size=(16, 16), patch_size=4, num_channels=3,
                                     hidden_dim=32, num_layers=2, num_heads=4, mlp_dim=64)
    return keras_mae.MaskedAutoencoder(backbone, decoder_hidden_dim=16, decoder_num_layers=1,
                                       decoder_num_heads=2, decoder_mlp_dim=32)


def _numpy_knn_top1(bank, bank_labels, query, query_labels, num_classes, k, temperature):
    """Independent reference: full similarity matrix, argsort, exp(sim / T) votes, argmax."""
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    query = query / np.linalg.norm(query, axis=1, keepdims=True)
    similarity = query @ bank.T
    k = min(k, len(bank))
    neighbours = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    weights = np.exp(np.take_along_axis(similarity, neighbours, axis=1) / temperature)
    neighbour_labels = bank_labels[neighbours]
    scores = np.stack(
        [(weights * (neighbour_labels == c)).sum(axis=1) for c in range(num_classes)], axis=1
    )
    return int((scores.argmax(axis=1) == query_labels).sum()) / len(query_labels)


def _clusters(num_bank, num_query, noise, dim=16, seed=0):
    """Gaussian clusters around one random centre per class: (bank, bank labels, query, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(NUM_CLASSES, dim))
    labels = rng.integers(0, NUM_CLASSES, size=num_bank + num_query)
    features = (centres[labels] + noise * rng.normal(size=(len(labels), dim))).astype("float32")
    return features[:num_bank], labels[:num_bank], features[num_bank:], labels[num_bank:]


def _image_dataset(num_images, seed, batch_size=32):
    """(images, labels) batches of random images whose mean depends on the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=num_images)
    images = rng.normal(size=(num_images, *IMAGE_SHAPE)) + 0.5 * labels[:, None, None, None]
    return tf.data.Dataset.from_tensor_slices((images.astype("float32"), labels)).batch(batch_size)


def _monitor(**kwargs):
    return KNNMonitor(_image_dataset(200, seed=1), _image_dataset(100, seed=2), NUM_CLASSES,
                      **kwargs)


def _run_monitor(model, epoch=2, epochs=3, **kwargs):
    """The logs one `on_epoch_end(epoch)` call of a fresh monitor writes, outside of `fit`."""
    monitor = _monitor(**kwargs)
    monitor.set_model(model)
    monitor.set_params({"epochs": epochs})
    logs = {}
    monitor.on_epoch_end(epoch, logs)
    return logs


# --- weighted_knn_top1 --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 20])
def test_knn_matches_numpy_reference_with_chunks(k):
    bank, bank_labels, query, query_labels = _clusters(400, 300, noise=2.0)
    expected = _numpy_knn_top1(bank, bank_labels, query, query_labels, NUM_CLASSES, k, 0.07)
    assert 0.3 < expected < 0.95  # Neither trivial nor hopeless: the votes decide.
    got = weighted_knn_top1(bank, bank_labels, query, query_labels, NUM_CLASSES, k=k,
                            chunk_size=64)  # 300 queries: 5 chunks, the last one partial.
    assert got == expected


def test_knn_with_k_larger_than_the_bank_uses_the_whole_bank():
    bank, bank_labels, query, query_labels = _clusters(12, 200, noise=1.3, seed=3)
    expected = _numpy_knn_top1(bank, bank_labels, query, query_labels, NUM_CLASSES, 12, 0.07)
    assert weighted_knn_top1(bank, bank_labels, query, query_labels, NUM_CLASSES, k=20) == expected


def test_knn_separated_clusters_are_perfect_and_shuffled_labels_are_chance():
    bank, bank_labels, query, query_labels = _clusters(500, 500, noise=0.05)
    assert weighted_knn_top1(bank, bank_labels, query, query_labels, NUM_CLASSES) == 1.0
    rng = np.random.default_rng(1)
    shuffled = weighted_knn_top1(bank, rng.permutation(bank_labels), query,
                                 rng.permutation(query_labels), NUM_CLASSES)
    assert shuffled < 0.4


def test_knn_votes_are_weighted_by_similarity():
    # Two class-0 neighbours at cosine 0.9, one class-1 neighbour at cosine 0.999 (k = 3): the
    # majority says 0, but exp(0.999 / 0.07) > 2 exp(0.9 / 0.07) says 1.
    def at_cosine(c, sign):
        return [c, sign * np.sqrt(1.0 - c * c)]

    bank = np.array([at_cosine(0.9, 1), at_cosine(0.9, -1), at_cosine(0.999, 1)], "float32")
    bank_labels = np.array([0, 0, 1])
    query, query_labels = np.array([[1.0, 0.0]], "float32"), np.array([1])
    assert weighted_knn_top1(bank, bank_labels, query, query_labels, 2, k=3) == 1.0
    # With a very soft temperature every vote weighs about the same, and the majority wins.
    assert weighted_knn_top1(bank, bank_labels, query, query_labels, 2, k=3,
                             temperature=100.0) == 0.0


# --- KNNMonitor ---------------------------------------------------------------------------------


def test_monitor_logs_knn_of_model_features_and_changes_no_weight():
    model = _tiny_model()
    before = [np.array(w) for w in model.weights]
    logs = _run_monitor(model, epoch=2, epochs=3, every_n_epochs=5)  # Last epoch: runs.
    assert set(logs) == {"knn_top1", "knn_top1_cls"}
    assert all(0.0 <= value <= 1.0 for value in logs.values())
    for w, saved in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(np.array(w), saved, err_msg=w.path)

    # Second code path: eager `model.features` on the whole bank and query sets at once.
    def features_of(dataset):
        images, labels = (np.concatenate(part) for part in zip(*dataset.as_numpy_iterator()))
        return {n: np.asarray(v, "float32") for n, v in model.features(images).items()}, labels

    bank, bank_labels = features_of(_image_dataset(200, seed=1))
    query, query_labels = features_of(_image_dataset(100, seed=2))
    extracted, extracted_labels = extract_features(model, _image_dataset(100, seed=2))
    np.testing.assert_array_equal(extracted_labels, query_labels)
    for name in ("cls_token", "pooled"):
        assert extracted[name].shape == (100, 32) and extracted[name].dtype == np.float32
        np.testing.assert_allclose(extracted[name], query[name], rtol=1e-5, atol=1e-5)
    for key, name in (("knn_top1", "pooled"), ("knn_top1_cls", "cls_token")):
        expected = weighted_knn_top1(bank[name], bank_labels, query[name], query_labels,
                                     NUM_CLASSES)
        assert logs[key] == expected


def test_monitor_writes_nothing_on_epochs_it_skips():
    assert _run_monitor(_tiny_model(), epoch=1, epochs=10, every_n_epochs=5) == {}


def test_monitor_values_reach_the_history_of_fit():
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    images = np.random.default_rng(0).normal(size=(16, *IMAGE_SHAPE)).astype("float32")
    monitor = _monitor(every_n_epochs=1)
    history = model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=2,
                        callbacks=[monitor], shuffle=False, verbose=0)
    assert len(history.history["knn_top1"]) == 2
    assert len(history.history["knn_top1_cls"]) == 2
    assert all(0.0 <= value <= 1.0 for value in history.history["knn_top1"])
    # 4 passes over batches of 32 then a smaller last one: traced for the first two shapes only.
    assert monitor._forward.experimental_get_tracing_count() <= 2


def test_monitor_under_mirrored_strategy_matches_one_device():
    if len(tf.config.list_logical_devices("CPU")) < 2:
        pytest.skip("MirroredStrategy over 2 CPU devices needs the CPU split in 2 logical devices")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = _tiny_model()
        mirrored.compile(optimizer=keras.optimizers.SGD(0.0))
    single = _tiny_model()
    single.set_weights(mirrored.get_weights())
    assert isinstance(mirrored.weights[0].value, tf.distribute.DistributedValues)
    mirrored_logs = _run_monitor(mirrored)
    assert set(mirrored_logs) == {"knn_top1", "knn_top1_cls"}
    assert mirrored_logs == _run_monitor(single)


# --- The memory bank ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "arrays", "tfds_array_record", "tfds_tfrecord"])
def test_bank_is_one_labelled_subset_at_every_evaluation_and_after_a_resume(
        kind, small_cifar_folder, cifar_tfds):
    def source():  # built afresh, as a resumed run builds it
        if kind == "folder":
            return from_folder(small_cifar_folder / "train", num_channels=3)
        if kind == "arrays":
            images, labels = zip(*from_folder(small_cifar_folder / "train").dataset)
            return from_arrays(np.stack(images), np.array(labels), tuple(range(10)))
        file_format = kind.removeprefix("tfds_")
        return from_tfds("cifar10_jpeg", "train", data_dir=str(cifar_tfds[file_format]),
                         download=False)

    def bank(batches):  # the images and labels of one evaluation's pass over the bank
        images, labels = zip(*((i.numpy(), l.numpy()) for i, l in batches))
        return np.concatenate(images), np.concatenate(labels)

    def batches(seed=0):
        return labelled_batches(source(), (32, 32), (0.5,) * 3, (0.25,) * 3, 16, count=60,
                                seed=seed)

    monitor_bank = batches()
    first = bank(monitor_bank)
    assert first[0].shape == (60, 32, 32, 3) and set(first[1]) <= set(range(10))
    for again in (bank(monitor_bank), bank(batches())):  # the next evaluation, a resumed run
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])
    assert not np.array_equal(bank(batches(seed=1))[0], first[0])  # a random subset per seed
