"""README promises about the tools that no other test pinned (issue 17): `.convert` without
PyTorch exits with status 3, sharded HuggingFace checkpoints load, and `.weights.h5` outputs
load into the same architecture."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, TINY, make_mae, random_batch

SQUARE_TINY = {**TINY, "image_size": (16, 16)}  # transformers' ViTMAE inits square images only

NO_TORCH = r"""
import runpy, sys
sys.modules["torch"] = None  # as if PyTorch were not installed: `import torch` fails
sys.argv = ["convert", *sys.argv[1:]]
runpy.run_module("keras_mae.convert", run_name="__main__", alter_sys=True)
"""


def test_convert_cli_without_pytorch_exits_with_status_3_saying_what_to_install(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"a released checkpoint, never read")
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "--checkpoint", str(tmp_path / "x.pth"),
         "--output", str(tmp_path / "y.keras")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 3, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and "requirements-torch.txt" in last_line, last_line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "y.keras").exists()


@pytest.fixture(scope="module")
def tiny_reference():
    """The PyTorch reference (transformers' ViTMAEForPreTraining) of a tiny architecture."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch_reference as ref

    return ref.random_reference(ref.hf_config_for(SQUARE_TINY))


def assert_same_weights(model, expected):
    """Every weight of the two models equal, matched by its path below the model's parts."""
    from keras_mae.convert.weights import model_weights

    weights, others = model_weights(model), model_weights(expected)
    assert sorted(weights) == sorted(others) and len(weights) == len(model.weights)
    for path, weight in weights.items():
        np.testing.assert_array_equal(np.asarray(weight), np.asarray(others[path]), err_msg=path)


def test_a_sharded_huggingface_checkpoint_reads_and_loads_as_the_unsharded_one(
        tiny_reference, tmp_path):
    from safetensors.numpy import load_file, save_file

    from keras_mae.convert.huggingface import load_hf_checkpoint, read_state

    whole = tmp_path / "whole"
    tiny_reference.save_pretrained(whole)  # one model.safetensors
    state = load_file(str(whole / "model.safetensors"))
    # Two shards and their index, as the Hub holds large checkpoints.
    by_hand = tmp_path / "two_shards"
    by_hand.mkdir()
    shutil.copy(whole / "config.json", by_hand / "config.json")
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2],
              "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({key: state[key] for key in keys}, str(by_hand / shard))
    (by_hand / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {"total_size": int(sum(array.nbytes for array in state.values()))},
        "weight_map": {key: shard for shard, keys in shards.items() for key in keys},
    }))
    # And transformers' own sharding.
    by_transformers = tmp_path / "transformers_shards"
    tiny_reference.save_pretrained(by_transformers, max_shard_size="20KB")
    assert len(list(by_transformers.glob("model-*-of-*.safetensors"))) > 2

    unsharded = read_state(whole)
    assert len(unsharded) == len(state)
    for folder in (by_hand, by_transformers):
        sharded = read_state(folder)
        assert sorted(sharded) == sorted(unsharded), folder.name
        for key, array in unsharded.items():
            np.testing.assert_array_equal(sharded[key], array, err_msg=f"{folder.name}: {key}")
        assert_same_weights(load_hf_checkpoint(folder), load_hf_checkpoint(whole))


def test_convert_cli_writes_weights_h5_that_load_into_the_same_architecture(
        tiny_reference, tmp_path):
    import torch_reference as ref

    from keras_mae.convert import load_hf_checkpoint

    tiny_reference.save_pretrained(tmp_path / "hf")
    output = tmp_path / "mae.weights.h5"
    result = subprocess.run(
        [sys.executable, "-m", "keras_mae.convert", "--checkpoint", str(tmp_path / "hf"),
         "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"written to {output}" in result.stdout
    model = make_mae(**SQUARE_TINY, norm_pix_loss=True)  # the same architecture, fresh weights
    model.load_weights(output)
    assert_same_weights(model, load_hf_checkpoint(tmp_path / "hf"))
    # And the weights are the reference's: the same outputs as PyTorch.
    images, noise = random_batch(model, batch=2)
    expected = ref.reference_outputs(tiny_reference, images, noise)
    outputs = model(images, noise=noise)
    np.testing.assert_array_equal(outputs["mask"], expected["mask"])
    assert np.abs(np.asarray(outputs["pred"]) - expected["pred"]).max() <= 1e-4
