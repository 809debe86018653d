"""``python -m demo [OUT_DIR]`` (``make demo``); see the package docstring."""

import argparse
import shlex
import time
from pathlib import Path

from demo.report import results_table, spectrogram_figure
from demo.training import RECIPE, build_corpus, train
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
    out = Path(parser.parse_args(argv).out_dir).resolve()
    start = time.time()
    corpus, output = out / "corpus", out / "resepformer"

    print(f"== 1/3 Embedded corpus -> {corpus}")
    build_corpus(corpus)
    print(format_statistics(corpus_statistics(corpus)))

    print(f"\n== 2/3 Training a small RE-SepFormer -> {output}")
    command = train(corpus, output, extra=["--n_audio_to_save=5"])

    print("\n== 3/3 Test results (dB improvement over the mixture)")
    table, average = results_table(output / "test_results.csv")
    print(table)
    audio = output / "save" / "audio_results"
    figure = out / "separation.png"
    example = spectrogram_figure(audio, figure)

    minutes = (time.time() - start) / 60
    print(
        f"\nTest SI-SNRi {average['si-snr_i']:.2f} dB, "
        f"SDRi {average['sdr_i']:.2f} dB, in {minutes:.1f} min.\n"
        f"\nWhere everything is:\n"
        f"  corpus (WSJ0-2Mix layout)  {corpus}\n"
        f"  training command           (cd {RECIPE} &&\n"
        f"      {shlex.join(command)})\n"
        f"  training log               {output / 'train_log.txt'}\n"
        f"  checkpoints                {output / 'save'}\n"
        f"  per-utterance scores       {output / 'test_results.csv'}\n"
        f"  separated test examples    {audio}\n"
        f"  spectrograms ({example[:20]}...)  {figure}"
    )


if __name__ == "__main__":
    main()
