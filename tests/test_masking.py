import numpy as np
import pytest

from keras_mae.masking import num_visible, random_masking


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
