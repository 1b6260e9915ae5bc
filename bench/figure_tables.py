"""Writes the tables of measured figures in bench/README.md and docs/performance.md from
bench/results/*.json, between `<!-- figures:NAME -->` markers, so that they cannot drift from
what the benches recorded; a test fails when a page differs from what this writes.

    python bench/figure_tables.py     # rewrite both tables after recording a bench run
"""

import pathlib

from check_figures import REPO, fixed, records

from devtools.markers import between_markers

HOSTS = ("amd", "intel")
TINY, BASE = "mae_vit_tiny_patch4_32", "mae_vit_base_patch16"
# What makes a throughput.py run another configuration than the library's compiled step.
CONFIGURATION = ("remat", "path", "variant", "set", "no_xla", "mixed_precision",
                 "steps_per_execution", "intra_op_threads", "inter_op_threads")


def runs_of(all_records, bench, host):
    """The runs `bench` recorded on `host`, oldest first: a record's "runs", or its figures."""
    return [run for record in all_records
            if record.get("bench") == bench and record.get("host") == host
            for run in record["figures"].get("runs", [record["figures"]])]


def speed_runs(all_records, host, preset, mode, **configuration):
    """The throughput.py runs against the reference of `host` for `preset` and `mode` in
    `configuration` (the library's compiled step unless given), leaving out runs a later change
    superseded."""
    wanted = {key: configuration.get(key) for key in CONFIGURATION}
    return [run for run in runs_of(all_records, "throughput.py", host)
            if run["preset"] == preset and run["mode"] == mode and "ratio_vs_torch" in run
            and "superseded_by" not in run
            and {key: run.get(key) for key in CONFIGURATION} == wanted]


def step_times(runs, side):
    """The step times of `side` ("keras", "torch") in `runs`: each run's fastest steps where it
    recorded them, else its median step."""
    times = []
    for run in runs:
        for key in ("_fastest_step_ms", "_fastest_step_ms_median", "_median_step_ms"):
            if side + key in run:
                times += values([run], side + key)
                break
    return times


def values(runs, *keys):
    """Every number under `keys` in `runs` (a key may hold one number or a list)."""
    found = []
    for run in runs:
        for key in keys:
            value = run.get(key)
            found += value if isinstance(value, list) else [] if value is None else [value]
    return found


def span(numbers, digits=0, suffix=""):
    """"836-916" from the numbers (one figure when all round alike), rounded as printed."""
    low, high = fixed(min(numbers), digits), fixed(max(numbers), digits)
    return (low if low == high else f"{low}-{high}") + suffix


def rate_digits(batch):
    """Decimals of an images/s figure: whole images for large batches, 2 for ViT-B's 8."""
    return 0 if batch >= 100 else 2


def speed_cell(runs, unit, bold):
    """"**1.19-1.34x** (836-916 against 1,015-1,130 ms)", or in images/s (batch * 1000 / ms)."""
    if not runs:
        return ""
    ratio = span(values(runs, "ratio_vs_torch"), 2, "x")
    sides = [step_times(runs, side) for side in ("keras", "torch")]
    if unit == "ms":
        detail = f"{span(sides[0])} against {span(sides[1])} ms"
    else:
        batch, digits = runs[0]["batch"], rate_digits(runs[0]["batch"])
        keras, torch = ([batch * 1000 / ms for ms in side] for side in sides)
        detail = f"{span(keras, digits)} against {span(torch, digits)} images/s"
    return f"{f'**{ratio}**' if bold else ratio} ({detail})"


def user_path_cell(all_records, unit, bold):
    """The newest user path (`--user-path`) run beside the compiled-step path of the session
    that first measured it (2 Dec 2026) and the user path before `compile()` used XLA."""
    user, compiled, before_xla = (
        speed_runs(all_records, "intel", TINY, "train", path=path)[-1]
        for path in ("user", "compiled, same session", "user, before XLA"))
    keras, torch = user["keras_median_step_ms"], user["torch_median_step_ms"]
    sides = (f"{fixed(keras)} against {fixed(torch)} ms" if unit == "ms" else
             f"{fixed(128_000 / keras)} against {fixed(128_000 / torch)} images/s")
    ratio = f"{fixed(user['ratio_vs_torch'], 2)}x"
    return (f"{f'**{ratio}**' if bold else ratio} fastest steps, "
            f"{fixed(user['ratio_vs_torch_median_steps'], 2)}x median steps ({sides}); the "
            f"compiled-step path in the same session {fixed(compiled['ratio_vs_torch'], 2)}x / "
            f"{fixed(compiled['ratio_vs_torch_median_steps'], 2)}x; before `compile()` "
            f"defaulted to XLA: {fixed(before_xla['ratio_vs_torch'], 2)}x\\*")


def memory_cell(runs, unit, bold):
    """"1.21x (3,767 against 3,125 MiB)" of peak_memory.py runs, or in GiB."""
    ratio = span(values(runs, "keras_over_torch"), 2, "x")
    keras, torch = values(runs, "keras_max_rss_mb"), values(runs, "torch_max_rss_mb")
    if unit == "GiB":
        keras, torch = [mb / 1024 for mb in keras], [mb / 1024 for mb in torch]
    digits = 1 if unit == "GiB" else 0
    return (f"{f'**{ratio}**' if bold else ratio} ({span(keras, digits)} against "
            f"{span(torch, digits)} {unit})")


def pipeline_cell(runs):
    """"**63-127x** (9,713 against 76.5 images/s)": the input pipeline's rate over tiny
    training's, the ratios of every run, the rates of the newest."""
    last = runs[-1]
    ratio = span(values(runs, "pipeline_over_training", "pipeline_over_quiet_training"), 0, "x")
    quiet = values([last], "quiet_training_images_per_sec")
    training = last["training_images_per_sec"]
    return (f"**{ratio}** ({fixed(last['pipeline_images_per_sec'])} against "
            f"{fixed(training, 1 if training < 100 else 0)} images/s"
            + (f"; training {fixed(quiet[0])} images/s when quiet" if quiet else "") + ")")


def peak_memory_runs(all_records, host, remat):
    """The peak_memory.py runs of the library's ViT-B at batch 8 on `host`, with `remat=True`
    or without."""
    return [run for run in runs_of(all_records, "peak_memory.py", host)
            if bool(run.get("remat")) == remat and run.get("variant") in (None, "library")
            and run.get("preset") == BASE and run.get("batch") == 8]


def newest(all_records, bench, host, **match):
    """The figures of the newest run of `bench` on `host` whose fields are `match` (absent
    fields count as None)."""
    return [run for run in runs_of(all_records, bench, host)
            if all(run.get(key) == value for key, value in match.items())][-1]


def speed_rows(all_records, unit, bold):
    """The rows both tables share: training and inference speed against the reference."""
    rows = []
    for label, preset, mode in (("training, {tiny}, batch 128", TINY, "train"),
                                ("training, {base}, batch 8", BASE, "train"),
                                ("encoder inference, {tiny}, batch 128", TINY, "infer"),
                                ("encoder inference, {base}, batch 8", BASE, "infer")):
        rows.append((label, *(speed_cell(speed_runs(all_records, host, preset, mode), unit,
                                         bold) for host in HOSTS)))
    return rows


def bench_readme_rows(all_records):
    """The rows of bench/README.md's table of current figures, in ms and MiB."""
    imagenet = newest(all_records, "input_imagenet.py", "intel", workers=None)
    workers = newest(all_records, "input_imagenet.py", "amd", workers=4)
    visible = {host: newest(all_records, "visible_only.py", host, preset=BASE, batch=8)
               for host in HOSTS}
    remat_speed = speed_runs(all_records, "amd", BASE, "train", remat=True)
    speed = speed_rows(all_records, "ms", bold=True)
    return [
        speed[0],
        ("training, {tiny}, batch 128, the user path (`--user-path`: `from_preset`, `compile()` "
         "defaults, `fit`)", "", user_path_cell(all_records, "ms", bold=True)),
        *speed[1:],
        ("peak RSS, ViT-B training, batch 8",
         *(memory_cell(peak_memory_runs(all_records, host, False), "MiB", False)
           for host in HOSTS)),
        ("the same with `remat=True`",
         *(memory_cell(peak_memory_runs(all_records, host, True), "MiB", True)
           for host in HOSTS)),
        ("`remat=True`, ViT-B training speed", speed_cell(remat_speed, "ms", False), ""),
        ("visible patches only vs mask tokens in the encoder, ViT-B training",
         *(f"**{fixed(visible[host]['visible_only_speedup'], 2)}x** "
           f"({fixed(visible[host]['visible_step_ms'])} against "
           f"{fixed(visible[host]['full_step_ms'])} ms)" for host in HOSTS)),
        ("input pipeline over what tiny training consumes",
         *(pipeline_cell(runs_of(all_records, "input_pipeline.py", host)) for host in HOSTS)),
        ("224-px training input from ImageNet-size JPEGs, images per second of one core "
         "(`input_imagenet.py`)", "",
         f"**{fixed(imagenet['array_record_images_per_core_sec'])}** images/s from TFDS "
         f"ArrayRecord, {fixed(imagenet['folder_images_per_core_sec'])} images/s from a folder "
         f"(wall-clock {span(imagenet['wall_images_per_sec_per_round'], 0, ' images/s')} per "
         f"round, the machine at load {imagenet['load_average']} on its 2 cores); "
         f"**{fixed(imagenet['cores_per_gpu'], 1)}** core per V100 at the reference's ViT-L "
         "rate (106 images/s)\\*"),
        ("one worker of 4 reading its share of that input (`input_imagenet.py --workers 4`), "
         "global images per second of one core",
         f"**{fixed(workers['one_of_N_workers_over_every_image'], 2)}x** reading every image, "
         f"as each worker did before ({fixed(workers['one_worker_images_per_core_sec'])}"
         f" against {fixed(workers['array_record_images_per_core_sec'])} images/s)", ""),
        ("XLA over no XLA, tiny training (`levers.py --a=--no-xla`)",
         *(fixed(newest(all_records, "levers.py", host, preset=TINY,
                        a="--no-xla")["speedup_b_over_a"], 2) + "x" for host in HOSTS)),
        ("float32 matmul rate, XLA / oneDNN / MKL",
         *(" / ".join(span(values(runs_of(all_records, "matmul_peak.py", host), key))
                      for key in ("xla_gflops", "onednn_gflops", "torch_gflops"))
           + " GFLOP/s" for host in HOSTS)),
    ]


def performance_rows(all_records):
    """The rows of docs/performance.md's table, in images/s and GiB."""
    rows = [("training as a user writes it (`from_preset`, `compile()`, `fit`), {tiny}, "
             "batch 128", "", user_path_cell(all_records, "images/s", bold=False)),
            *speed_rows(all_records, "images/s", bold=False)]
    rows.append(("peak memory, ViT-B training, batch 8", *(
        memory_cell(peak_memory_runs(all_records, host, False), "GiB", False)
        + "; `remat=True`: " + span(values(peak_memory_runs(all_records, host, True),
                                           "keras_over_torch"), 2, "x")
        for host in HOSTS)))
    return rows


def table(header, rows, preset_names):
    """A markdown table: the header line, its rule, then the rows."""
    lines = [header, "| --- | --- | --- |"]
    lines += ["| " + " | ".join((label.format(**preset_names), amd, intel)) + " |"
              for label, amd, intel in rows]
    return "\n".join(lines)


def tables(all_records=None):
    """{(page, marker name): the table's markdown} from bench/results."""
    all_records = records() if all_records is None else all_records
    return {
        ("bench/README.md", "current"): table(
            "| | AMD EPYC (Zen 4, AVX-512) | Intel Xeon (Ice Lake, 2.8 GHz) |",
            bench_readme_rows(all_records), {"tiny": "tiny preset", "base": "ViT-B/16"}),
        ("docs/performance.md", "speed"): table(
            "| keras_mae / PyTorch | AMD EPYC (Zen 4) | Intel Xeon (Ice Lake, 2.8 GHz) |",
            performance_rows(all_records), {"tiny": f"`{TINY}`", "base": f"`{BASE}`"}),
    }


def filled(page_text, name, markdown):
    """`page_text` with the section between `<!-- figures:name -->` markers set to `markdown`."""
    text = between_markers(page_text, f"figures:{name}", markdown)
    if text is None:
        raise ValueError(f"no <!-- figures:{name} --> section")
    return text


def rewrite(repo=REPO):
    """Writes every table into its page; returns the pages changed."""
    changed = []
    for (page, name), markdown in tables().items():
        path = pathlib.Path(repo) / page
        text = path.read_text()
        new = filled(text, name, markdown)
        if new != text:
            path.write_text(new)
            changed.append(page)
    return changed


if __name__ == "__main__":
    print("rewrote: " + (", ".join(rewrite()) or "nothing (up to date)"))
