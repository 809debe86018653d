"""The demo's training path (shared with the quality benchmark) on the
embedded corpus in the LibriMix layout: eSpeak NG speech written as
Libri2Mix, trained by the LibriMix recipe as `make demo` trains, tested,
with the run folder SpeechBrain's recipe tests expect."""

from demo.training import build_corpus, train
from hparams import MODELS
from lobes.training.results import read_test_results

TINY_CORPUS = {"n_train": 4, "n_valid": 2, "n_test": 2, "seed": 3}


def test_librimix_demo_variant_runs_the_recipe_end_to_end(tmp_path):
    corpus = tmp_path / "Libri2Mix"
    build_corpus(corpus, "librimix", TINY_CORPUS)
    assert (corpus / "wav8k/min/train-360/mix_clean").is_dir()
    output = tmp_path / "run"
    command = train(
        corpus,
        output,
        sizes=MODELS["resepformer"].tiny,
        epochs=1,
        extra=["--noprogressbar"],
        quiet=True,
        layout="librimix",
    )
    assert "hparams/resepformer.yaml" in command
    assert f"--base_folder_dm={corpus / 'clean' / 'train-360'}" in command
    rows, average = read_test_results(output / "test_results.csv")
    assert len(rows) == TINY_CORPUS["n_test"]
    assert all(abs(v) < 100 for v in average.values())
    for name in ("train.py", "hyperparams.yaml", "log.txt", "env.log"):
        assert (output / name).is_file(), name
    assert (output / "save" / "libri2mix_test.csv").is_file()
    # the same corpus again is reused, not rewritten
    stamp = (corpus / "synthmix.json").stat().st_mtime_ns
    build_corpus(corpus, "librimix", TINY_CORPUS)
    assert (corpus / "synthmix.json").stat().st_mtime_ns == stamp
