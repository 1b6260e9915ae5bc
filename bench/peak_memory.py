"""Peak resident memory (RSS) of training, keras_mae against the PyTorch reference, each in a
process of its own (one after the other), as ru_maxrss at the end of a few steps.

    python bench/peak_memory.py --preset mae_vit_base_patch16 --batch 8 [--remat]
"""

import argparse
import re
import subprocess
import sys

from bench_common import REPO
from record import add_output_flag, write_if_asked
from variants import VARIANTS


def peak_rss_mb(command):
    """Run a bench script; the `max_rss_mb=` figure it prints."""
    result = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True)
    found = re.search(r"max_rss_mb=(\d+)", result.stdout)
    if result.returncode or not found:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="library",
                        help="keras_mae's model variant (see bench/variants.py)")
    parser.add_argument("--remat", action="store_true", help="keras_mae with remat=True")
    add_output_flag(parser)
    args = parser.parse_args()
    common = ["--preset", args.preset, "--batch", str(args.batch), "--steps", str(args.steps),
              "--warmup", "1"]
    keras_flags = ["--variant", args.variant] + (["--remat"] if args.remat else [])
    keras_mb = peak_rss_mb(["bench/throughput.py", "--rounds", "1", *keras_flags, *common])
    print(f"keras_mae: {keras_mb} MiB", flush=True)
    torch_mb = peak_rss_mb(["bench/torch_reference.py", *common])
    print(f"PyTorch reference: {torch_mb} MiB")
    write_if_asked(args, {"preset": args.preset, "batch": args.batch, "remat": args.remat,
                          "variant": args.variant, "keras_max_rss_mb": keras_mb,
                          "torch_max_rss_mb": torch_mb, "keras_over_torch": keras_mb / torch_mb})
    print(f"keras_max_rss_mb={keras_mb} torch_max_rss_mb={torch_mb} "
          f"keras_over_torch={keras_mb / torch_mb:.2f}")


if __name__ == "__main__":
    main()
