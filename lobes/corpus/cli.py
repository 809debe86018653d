"""Command line of the embedded corpus: ``python -m lobes.synthmix``.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import time

from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.writer import LAYOUTS, SAMPLE_RATES, generate


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m lobes.synthmix OUT_DIR [options]``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.synthmix",
        description="Write a synthetic (eSpeak NG) speech separation corpus "
        "in the WSJ0-2Mix or WHAM! layout.",
    )
    parser.add_argument("out_dir", help="output folder")
    parser.add_argument("--layout", choices=list(LAYOUTS), default="wsj0-2mix")
    parser.add_argument("--n-train", type=int, default=200, help="tr mixtures")
    parser.add_argument("--n-valid", type=int, default=50, help="cv mixtures")
    parser.add_argument("--n-test", type=int, default=50, help="tt mixtures")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--sample-rate", type=int, default=8000, choices=SAMPLE_RATES
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a corpus this tool wrote before in OUT_DIR",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = generate(**vars(args))
    except (ValueError, OSError, ImportError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    seconds = time.perf_counter() - start
    stats = corpus_statistics(out)
    audio = stats["audio_hours"] * 3600
    print(format_statistics(stats))
    print(
        f"written in {seconds:.1f} s: {audio / seconds:.0f} s of audio "
        "per second"
    )
