"""keras_mae's side of an interleaved comparison in its own process, configured with the
arguments of throughput.py, serving rounds for `levers.py` (settings such as thread pools are
per process, so comparing them needs two processes)."""

import sys

from bench_common import max_rss_mb
from rounds import serve
from throughput import keras_contestant, parse_args


def main():
    args = parse_args([a for a in sys.argv[1:] if a != "--serve"])
    contestant = keras_contestant(args)
    serve(contestant, lambda: {"max_rss_mb": max_rss_mb(), "traces": contestant.traces})


if __name__ == "__main__":
    main()
