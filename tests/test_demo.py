"""The demo end to end (``python -m demo --smoke``: tiny corpus and model,
one epoch), on the embedded corpus in the LibriMix layout with real voices
from fake packages (nothing is fetched): eSpeak NG and real speech written
as Libri2Mix, trained by the LibriMix recipe as `make demo` trains, scored
on the synthetic and on the real-speech test split (both by the recipe),
with the run folder SpeechBrain's recipe tests expect."""

import sys
from pathlib import Path

from demo.__main__ import SMOKE_CORPUS, main
from demo.report import speakers
from demo.training import DEMO_MODEL, build_corpus
from lobes.corpus.voice_catalogue import VOICES
from lobes.training.results import REAL_FILE, read_test_results

sys.path.insert(0, str(Path(__file__).parent))
from sepdata import write_voice_packages  # noqa: E402


def test_librimix_demo_scores_synthetic_and_real_speech(tmp_path, capsys):
    packages = write_voice_packages(tmp_path / "packages")
    out = tmp_path / "demo"
    real = ["--real-voices", str(packages)]
    main([str(out), "--corpus", "librimix", "--smoke", *real])
    text = capsys.readouterr().out
    corpus, run = out / "corpus-librimix", out / f"{DEMO_MODEL}-librimix"
    assert (corpus / "wav8k/min/test_real/mix_clean").is_dir()
    assert (corpus / "CREDITS.md").is_file()
    assert "--base_folder_dm=" + str(corpus / "clean" / "train-360") in text
    test_voices = {v.id for v in VOICES if v.role == "tt"}
    rows, average = read_test_results(run / "test_results.csv")
    assert len(rows) == SMOKE_CORPUS["n_test"]
    assert not any(set(speakers(r["snt_id"])) & test_voices for r in rows)
    real_rows, real_average = read_test_results(run / REAL_FILE)
    assert len(real_rows) == SMOKE_CORPUS["n_test_real"]
    for row in real_rows:
        assert set(speakers(row["snt_id"])) <= test_voices
    for scores in (average, real_average):
        assert all(abs(v) < 100 for v in scores.values())
        assert f"SI-SNRi {scores['si-snr_i']:.2f} dB" in text
    assert "Synthetic test SI-SNRi" in text and "real-speech test SI" in text
    assert " + " in text  # the real-speech scores per pair of voices
    for name in ("train.py", "hyperparams.yaml", "log.txt", "env.log"):
        assert (run / name).is_file(), name
    assert (run / "save" / "libri2mix_test.csv").is_file()
    # the recipe itself scored the real-speech test split, in one run
    assert (run / "save" / "libri2mix_test_real.csv").is_file()
    assert "test real-voice si-snr loss" in (run / "train_log.txt").read_text()
    assert len(list((run / "save").glob("*.csv"))) == 4
    for figure in ("separation-librimix.png", "separation-librimix-real.png"):
        assert (out / figure).stat().st_size > 10_000, figure
    # the same corpus again is reused, not rewritten
    stamp = (corpus / "synthmix.json").stat().st_mtime_ns
    assert build_corpus(corpus, "librimix", SMOKE_CORPUS, packages)
    assert (corpus / "synthmix.json").stat().st_mtime_ns == stamp
    assert "reusing the corpus" in capsys.readouterr().out.lower()
    # without real voices: no real-speech test split (nothing fetched)
    off = tmp_path / "off"
    assert not build_corpus(off, "librimix", SMOKE_CORPUS, "off")
    assert not (off / "wav8k/min/test_real").exists()
