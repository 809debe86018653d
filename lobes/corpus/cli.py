"""Command line of the embedded corpus: ``python -m lobes.synthmix``.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import time

from lobes.corpus.layouts import LAYOUTS, NUM_SPKS
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.writer import SAMPLE_RATES, generate


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m lobes.synthmix OUT_DIR [options]``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    epilog = "layouts (mixtures under OUT_DIR/wav8k/min, wav16k at 16 kHz):"
    for name, layout in LAYOUTS.items():
        epilog += f"\n  {name:10} " + f"\n  {'':10} ".join(layout.description)
    parser = argparse.ArgumentParser(
        prog="python -m lobes.synthmix",
        description="Write a synthetic (eSpeak NG) speech separation corpus "
        "of 2 or 3 speakers\nin the WSJ0-2Mix/3Mix, WHAM! or LibriMix layout.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "out_dir", help="output folder (librimix: the Libri2Mix folder)"
    )
    parser.add_argument("--layout", choices=list(LAYOUTS), default="wsj0-2mix")
    parser.add_argument(
        "--num-spks",
        type=int,
        choices=NUM_SPKS,
        default=2,
        help="speakers per mixture, folders s1..s<N> (default: %(default)s)",
    )
    wsj0, libri = LAYOUTS["wsj0-2mix"].splits, LAYOUTS["librimix"].splits
    for k, (flag, default) in enumerate(
        (("--n-train", 200), ("--n-valid", 50), ("--n-test", 50))
    ):
        parser.add_argument(
            flag,
            type=int,
            default=default,
            help=f"mixtures in {wsj0[k]} ({libri[k]} for librimix; "
            "default: %(default)s)",
        )
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
