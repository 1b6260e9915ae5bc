"""The paper's efficiency claim (section 3, table 1c): an encoder that sees only the visible
patches against one that also carries mask tokens (same model otherwise, the
`mask_tokens_in_encoder` variant), timed as training steps in turns, in two processes.

    python bench/visible_only.py --preset mae_vit_base_patch16 --batch 8
"""

import argparse

from levers import compare
from record import add_output_flag, write_if_asked


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    add_output_flag(parser)
    args = parser.parse_args()
    full_ms, visible_ms, speedup = compare(
        args.preset, args.batch, "train", a="--variant mask_tokens_in_encoder", b="",
        rounds=args.rounds, steps=args.steps, warmup=1,
    )
    print(f"fastest steps: mask tokens in the encoder {full_ms:.0f} ms; visible patches only "
          f"{visible_ms:.0f} ms")
    write_if_asked(args, {"preset": args.preset, "batch": args.batch,
                          "visible_only_speedup": speedup, "full_step_ms": full_ms,
                          "visible_step_ms": visible_ms})
    print(f"visible_only_speedup={speedup:.2f} full_step_ms={full_ms:.1f} "
          f"visible_step_ms={visible_ms:.1f}")


if __name__ == "__main__":
    main()
