"""Command line of the embedded corpus: ``python -m lobes.synthmix``.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import os
import time

from lobes.corpus.debian import CACHE_VARIABLE
from lobes.corpus.layouts import LAYOUTS, NUM_SPKS
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.writer import N_TEST_REAL, SAMPLE_RATES, generate


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
    epilog += (
        "\nwith real voices, also the real-speech test split (tt_real, "
        "test_real for\nlibrimix, laid out as the others), CREDITS.md and "
        "licences/ in OUT_DIR"
    )
    parser = argparse.ArgumentParser(
        prog="python -m lobes.synthmix",
        description="Write a speech separation corpus of 2 or 3 speakers "
        "(eSpeak NG voices and\nreal recorded voices) in the "
        "WSJ0-2Mix/3Mix, WHAM! or LibriMix layout.",
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
    real = (
        f"{LAYOUTS['wsj0-2mix'].real_test} or {LAYOUTS['librimix'].real_test}"
    )
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
    parser.add_argument(
        "--n-test-real",
        type=int,
        default=N_TEST_REAL,
        help=f"mixtures in the real-speech test split ({real}, real voices "
        "held out of training; default: %(default)s)",
    )
    parser.add_argument(
        "--real-voices",
        default="auto",
        metavar="{auto,off,DIR}",
        help="real recorded voices beside eSpeak NG's: 'auto' fetches "
        "pinned Debian packages with apt-get into the cache (eSpeak NG only "
        "if that fails), 'off' uses none, DIR holds the packages unpacked, "
        "one folder per package name (default: %(default)s)",
    )
    parser.add_argument(
        "--cache",
        help="where 'auto' keeps the packages (default: "
        f"${CACHE_VARIABLE} or ~/.cache/sepformer-lobes)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--sample-rate", type=int, default=8000, choices=SAMPLE_RATES
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a corpus this tool wrote before in OUT_DIR, once the "
        "new one is complete",
    )
    args = parser.parse_args(argv)
    if args.real_voices not in ("auto", "off"):
        if not os.path.isdir(args.real_voices):
            parser.error(
                f"--real-voices {args.real_voices}: no such folder; give "
                "auto, off or a folder of unpacked packages"
            )
    start = time.perf_counter()
    try:
        out = generate(**vars(args))
    except (ValueError, OSError, ImportError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    except KeyboardInterrupt:
        parser.exit(
            130,
            f"{parser.prog}: interrupted; {args.out_dir} is as it was (a "
            "corpus appears there only when complete)\n",
        )
    seconds = time.perf_counter() - start
    stats = corpus_statistics(out)
    audio = stats["audio_hours"] * 3600
    print(format_statistics(stats))
    print(
        f"written in {seconds:.1f} s: {audio / seconds:.0f} s of audio "
        "per second"
    )
