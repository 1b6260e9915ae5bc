"""The README prose's figures that come from `results/*.json`, each written here as the phrase
the README holds with its figures computed from the JSON. `stale_phrases` lists the phrases the
README lacks: a figure typed wrong, or one a re-run changed (`report.write` prints them, and
`tests/experiments/test_readme_figures.py` fails on them).

The held-out losses of the ablation variants quoted in the prose are not in the JSON (their
curves hold the training loss only), so they are not checked here."""

import difflib
import json
import pathlib
import re


def percent(value):
    """A top-1 in %, as the README's tables print it: 0.4715 -> "47.1"."""
    return f"{100 * value:.1f}"


def points(value, baseline, signed=True):
    """A difference of two top-1s in points: "+16.7" (or "16.7")."""
    return f"{100 * (value - baseline):{'+' if signed else ''}.1f}"


def phrases(results_dir):
    """Every README phrase whose figures the JSON in `results_dir` gives, figures filled in."""
    results_dir = pathlib.Path(results_dir)
    return _cifar10_phrases(results_dir) + _ablation_phrases(results_dir)


def _read(results_dir, name):
    return json.loads((results_dir / name).read_text())


def _cifar10_phrases(results_dir):
    stages = _read(results_dir, "cifar10.json")["stages"]

    def top1(stage, epoch=None):
        if epoch is None:
            return stages[stage]["result"].get("val_accuracy", stages[stage]["result"].get(
                "knn_top1"))
        return stages[stage]["curve"][epoch - 1]["val_accuracy"]

    def machine(stage):
        """The CPU that ran `stage`, as recorded ("AMD EPYC, 2 CPUs" -> "AMD EPYC")."""
        return stages[stage]["cpu"].split(",")[0]

    def verdict(stage, baseline, target):
        """Whether `stage` beat `baseline` by `target`, as the prose words it."""
        return "met" if round(top1(stage) - top1(baseline), 3) >= target else "missed"

    # The probes with the reference's crops and BatchNorm, and the first protocol's (TF's crop
    # sampler, records *_tfcrop), which the prose reports beside them.
    probe_pretrained, probe_random = "linprobe_pretrained", "linprobe_random"
    first_pretrained, first_random = "linprobe_pretrained_tfcrop", "linprobe_random_tfcrop"
    knn = [entry for entry in stages["pretrain"]["curve"] if "knn_top1" in entry]
    probe = [entry["val_accuracy"] for entry in stages[probe_pretrained]["curve"]]
    candidates = _read(results_dir, "cifar10_probe_lr.json")["candidates"]
    seconds = [50_000 / entry["train_images_per_sec"]
               for stage in ("finetune_pretrained", "finetune_scratch")
               for entry in stages[stage]["curve"]]
    pretrained_lr10, random_lr10 = top1("linprobe_pretrained_cls_lr10"), top1(
        "linprobe_random_cls_lr10")
    return [
        "the cls token at 0.1, 1 and 10 gave "
        + ", ".join(f"{percent(candidates[lr]['heldout_top1_per_epoch'][-1])}%"
                    for lr in ("0.1", "1.0")) + f" and "
        f"{percent(candidates['10.0']['heldout_top1_per_epoch'][-1])}%",
        f"best, the mean patch token at 30, {percent(top1('select_probe_avg_lr30_tfcrop'))}%",
        f"base lr 30 reached {percent(top1('select_probe_avg_lr30'))}% after 3 epochs, against "
        f"{percent(top1('select_probe_avg_lr10'))}% at lr 10 and "
        f"{percent(top1('select_probe_avg_lr100'))}% at lr 100 (the first protocol: "
        f"{percent(top1('select_probe_avg_lr30_tfcrop'))}% at 30)",
        f"The first protocol, with TF's smaller crops, gave {percent(top1(first_pretrained))}% "
        f"against {percent(top1(first_random))}% for the random encoder, "
        f"**{points(top1(first_pretrained), top1(first_random))} (target +15: "
        f"{verdict(first_pretrained, first_random, 0.15)})**",
        f"protocol, with TF's smaller crops, gave {percent(top1(first_pretrained))}% against "
        f"{percent(top1(first_random))}% for the random encoder, "
        f"**{points(top1(first_pretrained), top1(first_random))} (target +15",
        f"k-NN: {points(top1('knn_pretrained'), top1('knn_random'))} points over the random "
        "encoder",
        f"the pretrained encoder scored {percent(top1(probe_pretrained))}% against "
        f"{percent(top1(probe_random))}% for the random encoder, "
        f"**{points(top1(probe_pretrained), top1(probe_random))} (target +15: "
        f"{verdict(probe_pretrained, probe_random, 0.15)})**",
        f"{percent(top1(probe_pretrained))}% against {percent(top1(probe_random))}% "
        "for the random encoder, "
        f"**{points(top1(probe_pretrained), top1(probe_random))} (target +15",
        f"gave {percent(top1(probe_pretrained))}% for the pretrained encoder "
        f"(`{probe_pretrained}`) against {percent(top1(probe_random))}% for the random one "
        f"(`{probe_random}`)",
        f"to {percent(top1(probe_pretrained))}% (pretrained) and {percent(top1(probe_random))}% "
        f"(random) from {percent(top1(first_pretrained))}% and {percent(top1(first_random))}%, "
        "and left their difference where it was "
        f"({points(top1(probe_pretrained), top1(probe_random))} against "
        f"{points(top1(first_pretrained), top1(first_random))})",
        f"first protocol ({percent(top1(first_pretrained))}% and "
        f"{percent(top1(first_random))}%)",
        f"gave {percent(pretrained_lr10)}% against {percent(random_lr10)}%, "
        f"{points(pretrained_lr10, random_lr10)};",
        f"(the curves above: {100 * min(probe[:14]):.0f}-{100 * max(probe[:14]):.0f}% up to "
        f"epoch 14, then {100 * min(probe[14:]):.0f}-{100 * max(probe[14:]):.0f}%)",
        f"the 3-epoch held-out probes reached {percent(top1('select_probe_avg_lr30'))}%",
        f"its held-out k-NN rose from {percent(knn[0]['knn_top1'])}% at epoch "
        f"{knn[0]['epoch']} to {percent(knn[-2]['knn_top1'])}% at {knn[-2]['epoch']} and "
        f"{percent(knn[-1]['knn_top1'])}% at {knn[-1]['epoch']}",
        f"15 epochs per stage, both on the {machine('finetune_pretrained')}: "
        f"{stages['finetune_pretrained']['wall_time_s'] / 60:.0f} min (pretrained) and "
        f"{stages['finetune_scratch']['wall_time_s'] / 60:.0f} min (from scratch), at "
        f"{round(min(seconds), -1):.0f}-{round(max(seconds), -1):.0f} s per epoch",
        f"the pretrained encoder reached {percent(top1('finetune_pretrained'))}%",
        f"against {percent(top1('finetune_scratch'))}% for the same ViT from scratch",
        f"**{points(top1('finetune_pretrained'), top1('finetune_scratch'))} (target +3: met)**",
        f"{percent(top1('finetune_pretrained', 1))}% against "
        f"{percent(top1('finetune_scratch', 1))}% after the first, "
        f"{percent(top1('finetune_pretrained', 7))}% against "
        f"{percent(top1('finetune_scratch', 7))}% after the seventh",
    ]


def _ablation_phrases(results_dir):
    variants = {entry["name"]: entry for entry in _read(results_dir, "ablations.json")["variants"]}
    cost = _read(results_dir, "ablation_cost.json")["variants"]
    untrained = _read(results_dir, "cifar10.json")["stages"]["knn_random"]["result"]["knn_top1"]

    def knn(name):
        return percent(variants[name]["knn_top1"])

    def probe(name):
        return percent(variants[name]["linear_probe_top1"])

    def both(name):
        return f"{knn(name)} / {probe(name)}"

    def below(name, field):
        return f"{100 * (variants['mae'][field] - variants[name][field]):.0f}"

    def times(name, field):
        return f"{cost[name][field]:.1f}x"

    ratios = ("mask_ratio_0.15", "mask_ratio_0.25", "mask_ratio_0.5", "mae", "mask_ratio_0.9")
    depths = ("decoder_depth_1", "mae", "decoder_depth_4")
    memory = f"{cost['mask_token_in_encoder']['peak_rss_mib'] / cost['mae']['peak_rss_mib']:.1f}x"
    trivial_loss = [entry["loss"] for entry in variants["decoder_depth_0"]["curve"][1:]]
    spread = sorted(100 * (variants["mask_ratio_0.9"][field] - variants["mask_ratio_0.15"][field])
                    for field in ("knn_top1", "linear_probe_top1"))
    return [
        f"Mask tokens in the encoder cost {times('mask_token_in_encoder', 'flops_over_mae')} "
        f"MAE's FLOPs, {times('mask_token_in_encoder', 'time_over_mae')} its training time "
        f"and {memory} its memory here",
        "k-NN " + " / ".join(knn(name) for name in ratios) + " and linear probe "
        + " / ".join(probe(name) for name in ratios) + " at 15 / 25 / 50 / 75 / 90%",
        "(the training loss fell to "
        f"{variants['mask_ratio_0.15']['curve'][-1]['loss']:.2f})",
        f"Our spread ({spread[0]:.0f}-{spread[1]:.0f} points from 15% to 90%)",
        f"k-NN {knn('decoder_depth_0')}% and probe {probe('decoder_depth_0')}%, against "
        f"{knn('mae')}% and {probe('mae')}% for MAE's 2-block decoder and "
        f"{percent(untrained)}% k-NN for the untrained encoder",
        f"its loss sat at {sum(trivial_loss) / len(trivial_loss):.3f} from the second epoch",
        "k-NN " + " / ".join(knn(name) for name in depths) + " and probe "
        + " / ".join(probe(name) for name in depths) + " at depth 1 / 2 / 4",
        f"k-NN {knn('mask_token_in_encoder')} and probe {probe('mask_token_in_encoder')} "
        f"against MAE's {knn('mae')} and {probe('mae')}, at "
        f"{times('mask_token_in_encoder', 'flops_over_mae')} the FLOPs, "
        f"{times('mask_token_in_encoder', 'time_over_mae')} the training time and {memory} "
        "the peak memory",
        f"The gap is smaller here ({below('mask_token_in_encoder', 'knn_top1')} k-NN, "
        f"{below('mask_token_in_encoder', 'linear_probe_top1')} probe points",
        f"Raw pixels ({both('pixel_targets')}) against normalised ones ({both('mae')})",
        f"The loss on every patch: k-NN {knn('loss_on_all_patches')}, "
        f"{points(variants['mae']['knn_top1'], variants['loss_on_all_patches']['knn_top1'], False)}"
        f" below the loss on removed patches only, probe {probe('loss_on_all_patches')}",
        f"k-NN {knn('bert_design')} and probe {probe('bert_design')}, "
        f"{below('bert_design', 'knn_top1')} and {below('bert_design', 'linear_probe_top1')} "
        f"points below MAE's {knn('mae')} and {probe('mae')}, at "
        f"{times('bert_design', 'flops_over_mae')} its FLOPs and "
        f"{times('bert_design', 'time_over_mae')} its training time",
        f"its mask ratio (15%: {both('mask_ratio_0.15')}) or its mask tokens in the encoder "
        f"({both('mask_token_in_encoder')})",
        f"(`decoder_depth_0`: {both('decoder_depth_0')}; the untrained encoder: "
        f"{percent(untrained)} k-NN)",
    ]


def stale_phrases(readme_text, results_dir):
    """[(phrase the JSON gives, the README's closest passage)] for each phrase the README lacks
    (whitespace and line breaks aside)."""
    text = re.sub(r"\s+", " ", readme_text)
    stale = []
    for phrase in phrases(results_dir):
        if phrase not in text:
            words = len(phrase.split())
            spans = [" ".join(text.split()[i:i + words]) for i in range(len(text.split()))]
            closest = difflib.get_close_matches(phrase, spans, n=1, cutoff=0)
            stale.append((phrase, closest[0] if closest else ""))
    return stale


def print_stale(pages, results_dir):
    """Print each prose phrase of `pages` (the README and the guides) whose figures
    `results_dir` no longer gives (after a re-run): the prose to update by hand. Silent while
    the results are partial."""
    text = "\n".join(page.read_text() for page in map(pathlib.Path, pages) if page.exists())
    if not text:
        return
    try:
        stale = stale_phrases(text, results_dir)
    except (FileNotFoundError, KeyError, IndexError, ValueError):
        return  # an experiment not run (or not finished) yet
    for phrase, closest in stale:
        print(f"Prose to update: {closest!r} -> the results give {phrase!r}", flush=True)
