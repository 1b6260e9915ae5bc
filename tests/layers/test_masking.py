import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_mae.layers.masking import num_visible, random_masking, take_tokens


def masking(noise, keep):
    return [np.asarray(t) for t in random_masking(noise, keep)]


def test_mask_keeps_exactly_25_percent_per_sample():
    noise = np.random.default_rng(0).random((5, 196)).astype("float32")
    keep = num_visible(196, 0.75)
    assert keep == 49
    ids_keep, mask, _ = masking(noise, keep)
    assert ids_keep.shape == (5, 49)
    np.testing.assert_array_equal(mask.sum(axis=1), 196 - 49)
    for row in range(5):
        assert len(set(ids_keep[row])) == 49


def test_visible_patches_are_those_with_the_smallest_noise():
    noise = np.random.default_rng(1).random((3, 20)).astype("float32")
    ids_keep, mask, _ = masking(noise, 5)
    for row in range(3):
        expected = np.argsort(noise[row])[:5]
        np.testing.assert_array_equal(ids_keep[row], expected)
        np.testing.assert_array_equal(np.flatnonzero(mask[row] == 0), np.sort(expected))


def test_ids_restore_inverts_the_shuffle():
    noise = np.random.default_rng(2).random((4, 30)).astype("float32")
    _, _, ids_restore = masking(noise, 7)
    shuffled = np.argsort(noise, axis=1)
    restored = np.take_along_axis(shuffled, ids_restore, axis=1)
    np.testing.assert_array_equal(restored, np.tile(np.arange(30), (4, 1)))


def test_same_noise_gives_the_same_mask_and_other_noise_another():
    rng = np.random.default_rng(3)
    noise, other = rng.random((2, 2, 64)).astype("float32")
    assert np.array_equal(masking(noise, 16)[1], masking(noise.copy(), 16)[1])
    assert not np.array_equal(masking(noise, 16)[1], masking(other, 16)[1])


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_mask_ratio_out_of_range_is_refused(ratio):
    with pytest.raises(ValueError, match="mask_ratio"):
        num_visible(64, ratio)


def test_mask_ratio_that_leaves_nothing_visible_is_refused():
    with pytest.raises(ValueError, match="no visible patch"):
        num_visible(16, 0.95)


def test_take_tokens_gathers_whole_rows_as_take_along_axis_did_with_equal_gradients():
    rng = np.random.default_rng(0)
    tokens = tf.constant(rng.normal(size=(3, 10, 5)).astype("float32"))
    indices = np.argsort(rng.random((3, 10)), axis=1)[:, :4]
    upstream = rng.normal(size=(3, 4, 5)).astype("float32")
    expected = np.stack([np.asarray(tokens)[b, indices[b]] for b in range(3)])

    def rows_and_gradient(gather):
        with tf.GradientTape() as tape:
            tape.watch(tokens)
            rows = gather(tokens, indices)
            loss = tf.reduce_sum(rows * upstream)
        return np.asarray(rows), np.asarray(tf.convert_to_tensor(tape.gradient(loss, tokens)))

    rows, gradient = rows_and_gradient(take_tokens)
    along_rows, along_gradient = rows_and_gradient(
        lambda x, i: ops.take_along_axis(x, i[:, :, None], axis=1))
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(rows, along_rows)
    np.testing.assert_array_equal(gradient, along_gradient)
    assert np.count_nonzero(gradient.any(axis=-1)) == 3 * 4  # only the gathered rows
    compiled = tf.function(take_tokens, jit_compile=True)
    np.testing.assert_array_equal(compiled(tokens, tf.constant(indices)), expected)
