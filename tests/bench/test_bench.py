"""The benches, run as a user runs them, on tiny architectures for a few steps, and the pieces
they share."""

import json
import math
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import bench_module

REPO = pathlib.Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
TINY_ARCHITECTURE = [
    "hidden_dim=32", "num_layers=1", "num_heads=2", "mlp_dim=64",
    "decoder_hidden_dim=16", "decoder_num_layers=1", "decoder_num_heads=2", "decoder_mlp_dim=32",
]


@pytest.mark.slow
def test_throughput_bench_trains_through_the_fit_step_and_ends_with_its_summary_line(tmp_path):
    command = [sys.executable, "bench/throughput.py", "--preset", "mae_vit_micro_patch4_28_grey",
               "--batch", "4", "--rounds", "1", "--steps", "2", "--warmup", "1",
               "--quiet-wait", "0", "--output", str(tmp_path / "throughput")]
    command += [f"--set={pair}" for pair in TINY_ARCHITECTURE]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    summary = re.fullmatch(r"images_per_sec=([\d.]+) step_ms_median=([\d.]+)", lines[-1])
    assert summary, lines[-1]
    images_per_sec, step_ms = map(float, summary.groups())
    assert images_per_sec > 0 and step_ms > 0
    # Both printed rounded (step_ms to 0.1 ms, a few ms here): the same median step.
    assert 4000 / (step_ms + 0.05) - 0.01 <= images_per_sec <= 4000 / (step_ms - 0.05) + 0.01
    trained = re.search(r"iterations (\d+) -> (\d+), loss ([\d.naif-]+) -> ([\d.naif-]+)",
                        result.stdout)
    assert trained, result.stdout
    first_iteration, last_iteration = int(trained.group(1)), int(trained.group(2))
    assert last_iteration - first_iteration == 3  # 1 warm-up step + 2 timed steps
    first_loss, last_loss = float(trained.group(3)), float(trained.group(4))
    assert math.isfinite(first_loss) and math.isfinite(last_loss) and first_loss != last_loss
    assert "traces=1 " in result.stdout  # one trace of the train step: no retracing
    # --output: the same figures as a record, the architecture's overrides setting it apart
    [run] = json.loads((tmp_path / "throughput.json").read_text())["figures"]["runs"]
    assert run["set"] == TINY_ARCHITECTURE and len(run["keras_fastest_step_ms"]) == 1
    assert abs(run["keras_median_step_ms"] - step_ms) <= 0.05
    assert run["keras_fastest_step_ms"][0] <= run["keras_median_step_ms"]


@pytest.mark.slow
def test_imagenet_input_bench_reads_array_record_and_a_folder_and_ends_with_its_summary_line():
    command = [sys.executable, "bench/input_imagenet.py", "--images", "20", "--batch", "4",
               "--rounds", "1", "--batches", "2", "--quiet-wait", "0"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"20 JPEGs of 500x375, 1\d\d KB on average", result.stdout), result.stdout
    summary = re.fullmatch(
        r"array_record_images_per_core_sec=(\d+) folder_images_per_core_sec=(\d+) "
        r"reference_vit_l_images_per_sec_per_gpu=106 cores_per_gpu=([\d.]+)",
        result.stdout.strip().splitlines()[-1])
    assert summary, result.stdout
    array_record, _, cores = map(float, summary.groups())
    assert array_record > 0 and abs(cores - 106 / array_record) <= 0.05 + 0.01 * cores


@pytest.mark.slow
def test_the_user_path_bench_trains_with_compile_defaults_through_fit():
    command = [sys.executable, "bench/throughput.py", "--preset", "mae_vit_micro_patch4_28_grey",
               "--batch", "4", "--rounds", "2", "--steps", "2", "--warmup", "1",
               "--quiet-wait", "0", "--user-path"]
    command += [f"--set={pair}" for pair in TINY_ARCHITECTURE]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    trained = re.search(r"iterations (\d+) -> (\d+), loss ([\d.]+) -> ([\d.]+)", result.stdout)
    assert trained and int(trained.group(2)) - int(trained.group(1)) == 5, result.stdout
    assert trained.group(3) != trained.group(4)
    # Keras' first fit() traces the step once or twice; the two rounds' fit() calls reuse it.
    assert int(re.search(r"traces=(\d+) ", result.stdout).group(1)) <= 2
    assert re.fullmatch(r"images_per_sec=[\d.]+ step_ms_median=[\d.]+",
                        result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_phases_bench_reports_each_phase_and_a_consistent_summary():
    command = [sys.executable, "bench/memory_phases.py", "--preset", "mae_vit_micro_patch4_28_grey",
               "--batch", "4", "--steps", "2", "--update", "adamw"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    phases = [float(value.replace(",", "")) for value in
              re.findall(r"^[+\w].*?: +([\d,]+) MiB$", result.stdout, flags=re.MULTILINE)]
    assert len(phases) == 3 and phases[0] < phases[1], result.stdout  # the weights take room
    summary = re.fullmatch(r"update=adamw state_mb=(\d+) step_peak_mb=(\d+) working_set_mb=(\d+)",
                           result.stdout.strip().splitlines()[-1])
    assert summary, result.stdout
    state, peak, _ = map(int, summary.groups())
    assert peak >= state > phases[0]  # the step's peak, above the state it started from


@pytest.mark.slow
def test_step_profile_bench_finds_every_traced_instruction_and_splits_the_step():
    command = [sys.executable, "bench/step_profile.py", "--preset", "mae_vit_micro_patch4_28_grey",
               "--batch", "4", "--steps", "2"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    # The bench exits with an error if a traced instruction is not in the step's HLO.
    assert result.returncode == 0, result.stderr[-3000:]
    summary = re.fullmatch(r"step_ms=([\d.]+) products_ms=([\d.]+) products_gflops=([\d.]+)",
                           result.stdout.strip().splitlines()[-1])
    assert summary, result.stdout
    step_ms, products_ms, gflops = map(float, summary.groups())
    assert 0 < products_ms < step_ms  # the products and something else (norms, AdamW) ran
    step_gflop = float(re.search(r": ([\d.e+-]+) GFLOP a step", result.stdout).group(1))
    # The rate is computed from unrounded figures: bound it by the printed ones' rounding (0.05
    # ms for products_ms, 4 significant digits for the GFLOP, 0.05 for the rate itself).
    low = step_gflop * (1 - 5e-4) / (products_ms + 0.05) * 1e3 - 0.05
    high = step_gflop * (1 + 5e-4) / max(products_ms - 0.05, 1e-9) * 1e3 + 0.05
    assert low <= gflops <= high, (low, gflops, high)


def test_matmul_peak_bench_times_each_side_and_summarises_the_table(tmp_path):
    shapes = "[[512, 256, 384], [384, 512, 256]]"
    command = [sys.executable, "bench/matmul_peak.py", "--shapes", shapes, "--rounds", "1",
               "--repeats", "2", "--compare-torch", "--output", str(tmp_path / "matmul")]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^\[(\d+)x(\d+)\]x\[(\d+)x(\d+)\] +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$",
                      result.stdout, flags=re.MULTILINE)
    products = [tuple(map(int, row[:4])) for row in rows]
    assert products == [(512, 256, 256, 384), (384, 512, 512, 256)]
    columns = [list(map(float, column)) for column in zip(*rows)]
    xla, onednn, torch, xla_over_torch = columns[4:]
    assert all(rate > 0 for rate in xla + onednn + torch)
    for x, t, ratio in zip(xla, torch, xla_over_torch):
        assert math.isclose(ratio, x / t, rel_tol=0.02, abs_tol=0.002)
    summary = re.fullmatch(r"matmul_peak_gflops=([\d.]+) torch_matmul_peak_gflops=([\d.]+) "
                           r"xla_over_torch_median=([\d.]+)",
                           result.stdout.strip().splitlines()[-1])
    assert summary, result.stdout
    peak, torch_peak, median_ratio = map(float, summary.groups())
    assert math.isclose(peak, max(xla + onednn), abs_tol=0.06)
    assert math.isclose(torch_peak, max(torch), abs_tol=0.06)
    median_of_two = sum(xla_over_torch) / 2
    assert math.isclose(median_ratio, median_of_two, rel_tol=0.02, abs_tol=0.002)
    # --output: the table as a record, with what measured it
    record = json.loads((tmp_path / "matmul.json").read_text())
    assert record["bench"] == "matmul_peak.py" and "--compare-torch" in record["command"]
    assert record["host"] in ("amd", "intel") and record["cpu"] and record["commit"]
    assert [run["product"] for run in record["figures"]["runs"]] == [
        "[512x256] x [256x384]", "[384x512] x [512x256]"]
    assert [round(run["xla_gflops"], 1) for run in record["figures"]["runs"]] == xla


def test_bench_common_reads_presets_and_vitmae_configs_without_tensorflow():
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_common; "
        "a = bench_common.preset_architecture('mae_vit_tiny_patch4_32', num_layers=2); "
        "print(json.dumps([a, bench_common.hf_config({**a, 'mask_ratio': 0.5}), "
        "'tensorflow' in sys.modules, 'keras' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(BENCH)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    architecture, config, imported_tensorflow, imported_keras = json.loads(result.stdout)
    assert not imported_tensorflow and not imported_keras
    from keras_mae.convert.huggingface import hf_config
    from keras_mae.models.presets import preset_arguments

    backbone, task = preset_arguments("mae_vit_tiny_patch4_32", num_layers=2)
    assert architecture == {**backbone, **task, "image_size": [32, 32]}
    assert config == json.loads(json.dumps(hf_config({**architecture, "mask_ratio": 0.5})))


def test_bench_common_refuses_unknown_architecture_fields():
    with pytest.raises(SystemExit, match="encoder_depth"):
        bench_module("bench_common").preset_architecture("mae_vit_tiny_patch4_32", encoder_depth=2)


def test_every_bench_variant_is_a_set_of_constructor_arguments():
    from keras_mae import MaskedAutoencoder

    for name, arguments in bench_module("variants").VARIANTS.items():
        model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey", **arguments)
        assert all(getattr(model, key) == value for key, value in arguments.items()), name


def test_flop_count_of_every_ablation_variant_agrees_with_tensorflows_own_count():
    """The architecture's count (matmuls and the patch embedding) against TensorFlow's graph
    profiler, which also counts the element-wise work: a few percent above, never below."""
    import tensorflow as tf

    from devtools.ablation_variants import BASE, VARIANTS
    from keras_mae import MaskedAutoencoder

    flops, bench_common = bench_module("flops"), bench_module("bench_common")
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    for name, _, changes in VARIANTS:
        if set(changes) <= {"norm_pix_loss", "loss_on"}:
            continue  # the baseline's forward pass
        fields = {**BASE, **changes}
        model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32", **fields)
        graph = tf.function(lambda images: model(images)["pred"]).get_concrete_function(
            tf.TensorSpec((1, 32, 32, 3))).graph
        counted = tf.compat.v1.profiler.profile(graph, options=options).total_float_ops
        ours = flops.forward_flops(bench_common.preset_architecture("mae_vit_micro_patch4_32",
                                                                    **fields))
        assert 1.0 <= counted / ours <= 1.03, (name, counted, ours)


def test_mask_tokens_in_the_encoder_cost_the_papers_flops_on_vit_large():
    """Table 1c: the encoder on every patch costs ViT-L (decoder 8 x 512) 3.3x the FLOPs."""
    flops, bench_common = bench_module("flops"), bench_module("bench_common")
    architecture = bench_common.preset_architecture("mae_vit_large_patch16")
    ratio = (flops.forward_flops({**architecture, "mask_token_in_encoder": True})
             / flops.forward_flops(architecture))
    assert 3.2 <= ratio <= 3.4, ratio


@pytest.mark.slow
def test_ablation_cost_bench_times_each_variant_beside_the_baseline(tmp_path):
    output = tmp_path / "ablation_cost.json"
    command = [sys.executable, "bench/ablation_cost.py", "--batch", "4", "--rounds", "2",
               "--steps", "1", "--warmup", "1", "--output", str(output),
               "--variants", "mae,decoder_depth_0,mask_token_in_encoder"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    costs = json.loads(output.read_text())
    assert costs["batch"] == 4 and costs["cpu"] and costs["commit"]
    variants = costs["variants"]
    assert list(variants) == ["mae", "decoder_depth_0", "mask_token_in_encoder"]
    assert variants["mae"]["time_over_mae"] == 1.0 and variants["mae"]["flops_over_mae"] == 1.0
    assert variants["mask_token_in_encoder"]["model"]["mask_token_in_encoder"] is True
    # The encoder on all 64 patches instead of 16: more FLOPs; no decoder blocks: fewer.
    assert variants["mask_token_in_encoder"]["flops_over_mae"] > 2
    assert variants["decoder_depth_0"]["flops_over_mae"] < 1
    for figures in variants.values():
        assert figures["peak_rss_mib"] > 100
        assert math.isclose(figures["train_images_per_sec"], 4000 / figures["step_ms"],
                            rel_tol=0.01)
    assert result.stdout.strip().splitlines()[-1].startswith("variants=3 slowest=")
