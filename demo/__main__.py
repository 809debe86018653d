"""``python -m demo [OUT_DIR]`` (``make demo``); see the package docstring."""

import argparse
import shlex
import time
from pathlib import Path

from demo.report import results_table, spectrogram_figure
from demo.training import RECIPE_OF, RECIPES, build_corpus, train
from lobes.corpus.statistics import corpus_statistics, format_statistics


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m demo [OUT_DIR]``.

    Arguments
    ---------
    argv : list[str], optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(prog="python -m demo")
    parser.add_argument("out_dir", nargs="?", default="results/demo")
    parser.add_argument(
        "--corpus",
        choices=["wsj0-2mix", "librimix"],
        default="wsj0-2mix",
        help="the embedded corpus's layout, which picks the recipe "
        "(WSJ0Mix or LibriMix)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out_dir).resolve()
    start = time.time()
    suffix = "" if args.corpus == "wsj0-2mix" else f"-{args.corpus}"
    corpus = out / f"corpus{suffix}"
    output = out / f"resepformer{suffix}"
    recipe = RECIPES / RECIPE_OF[args.corpus]

    print(f"== 1/3 Embedded corpus ({args.corpus} layout) -> {corpus}")
    build_corpus(corpus, args.corpus)
    print(format_statistics(corpus_statistics(corpus)))

    print(f"\n== 2/3 Training a small RE-SepFormer -> {output}")
    command = train(
        corpus, output, extra=["--n_audio_to_save=5"], layout=args.corpus
    )

    print("\n== 3/3 Test results (dB improvement over the mixture)")
    table, average = results_table(output / "test_results.csv")
    print(table)
    audio = output / "save" / "audio_results"
    figure = out / f"separation{suffix}.png"
    example = spectrogram_figure(audio, figure)

    minutes = (time.time() - start) / 60
    print(
        f"\nTest SI-SNRi {average['si-snr_i']:.2f} dB, "
        f"SDRi {average['sdr_i']:.2f} dB, in {minutes:.1f} min.\n"
        f"\nWhere everything is:\n"
        f"  corpus ({args.corpus} layout)  {corpus}\n"
        f"  training command           (cd {recipe} &&\n"
        f"      {shlex.join(command)})\n"
        f"  training log               {output / 'train_log.txt'}\n"
        f"  checkpoints                {output / 'save'}\n"
        f"  per-utterance scores       {output / 'test_results.csv'}\n"
        f"  separated test examples    {audio}\n"
        f"  spectrograms ({example[:20]}...)  {figure}"
    )


if __name__ == "__main__":
    main()
