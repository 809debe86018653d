"""``python -m demo [OUT_DIR]`` (``make demo``); see the package docstring."""

import argparse
import shlex
import time
from pathlib import Path

from demo.report import results_table, spectrogram_figure
from demo.training import (
    CORPUS,
    DEMO_MODEL,
    REAL_VOICES,
    RECIPE_OF,
    RECIPES,
    TRAINING_EPOCHS,
    build_corpus,
    demo_threads,
    train,
)
from hparams import MODELS
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.training.results import FILE, REAL_FILE, read_test_results

# --smoke: the whole path in about a minute (tiny model and corpus, 1 epoch)
SMOKE_CORPUS = {
    "n_train": 4,
    "n_valid": 4,
    "n_test": 2,
    "n_test_real": 4,
    "seed": 3,
}


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
    parser.add_argument(
        "--real-voices",
        default=REAL_VOICES,
        metavar="{auto,off,DIR}",
        help="real recorded voices beside eSpeak NG's: 'auto' fetches the "
        "pinned Debian packages (python -m lobes.synthmix --help), 'off' "
        "trains and tests on eSpeak NG only, DIR holds the packages "
        "unpacked (default: %(default)s)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check the whole path in a minute: tiny corpus and model, "
        "one epoch (scores mean nothing)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out_dir).resolve()
    start = time.time()
    suffix = "" if args.corpus == "wsj0-2mix" else f"-{args.corpus}"
    corpus = out / f"corpus{suffix}"
    output = out / f"{DEMO_MODEL}{suffix}"
    recipe = RECIPES / RECIPE_OF[args.corpus]
    definition = MODELS[DEMO_MODEL]
    sizes, epochs, model = CORPUS, TRAINING_EPOCHS, definition.small
    if args.smoke:
        sizes, epochs, model = SMOKE_CORPUS, 1, definition.tiny

    print(f"== 1/4 Embedded corpus ({args.corpus} layout) -> {corpus}")
    real = build_corpus(corpus, args.corpus, sizes, args.real_voices)
    print(format_statistics(corpus_statistics(corpus)))

    label = definition.label
    print(f"\n== 2/4 Training a small {label} -> {output}")
    training = dict(
        model=DEMO_MODEL,
        sizes=model,
        epochs=epochs,
        extra=["--n_audio_to_save=5"],
        threads=demo_threads(),
    )
    command = train(corpus, output, layout=args.corpus, **training)

    print("\n== 3/4 Synthetic test (eSpeak NG voices; dB over the mixture)")
    table, average = results_table(output / FILE)
    print(table)
    audio = output / "save" / "audio_results"
    rows, _ = read_test_results(output / FILE)
    figure = out / f"separation{suffix}.png"
    figures = {
        figure: spectrogram_figure(
            audio, figure, rows[0]["snt_id"], model=label
        )
    }
    scores = f"synthetic test SI-SNRi {average['si-snr_i']:.2f} dB"

    print("\n== 4/4 Real-speech test (real voices never heard in training)")
    results = output / REAL_FILE  # the recipe scored the real split too
    if real:
        table, average = results_table(results, by_pair=True)
        print(table)
        rows, _ = read_test_results(results)
        figure = out / f"separation{suffix}-real.png"
        figures[figure] = spectrogram_figure(
            audio,
            figure,
            rows[0]["snt_id"],
            "real-speech test mixture",
            model=label,
        )
        scores += f", real-speech test SI-SNRi {average['si-snr_i']:.2f} dB"
    else:
        print(
            "No real voices in the corpus (see above): no real-speech test. "
            "Run again where apt-get can fetch Debian packages, or pass "
            "--real-voices DIR."
        )

    minutes = (time.time() - start) / 60
    print(f"\n{scores[0].upper()}{scores[1:]}, in {minutes:.1f} min.")
    print(
        f"\nWhere everything is:\n"
        f"  corpus ({args.corpus} layout)  {corpus}\n"
        f"  training command           (cd {recipe} &&\n"
        f"      {shlex.join(command)})\n"
        f"  training log               {output / 'train_log.txt'}\n"
        f"  checkpoints                {output / 'save'}\n"
        f"  per-mixture scores         {output / FILE}"
    )
    if real:
        print(f"  ... real-speech test       {results}")
        print(f"  credits of the voices      {corpus / 'CREDITS.md'}")
    print(f"  separated test examples    {audio}")
    for figure, example in figures.items():
        print(f"  spectrograms ({example[:20]}...)  {figure}")


if __name__ == "__main__":
    main()
