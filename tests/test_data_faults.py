"""Bad or incomplete training data named in one line, and preparation and
logs that stay consistent after a failure or a kill: CSVs all or none, a
corpus whose build was interrupted or of more speakers refused, bad CSV
rows and damaged WAV files named, and a train log that a kill during the
end-of-epoch checkpoint does not make repeat an epoch.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from faultrun import run_args
from sepdata import write_corpus

from lobes.training.csv_checks import check_csv
from lobes.training.csvs import write_split_csvs
from lobes.training.errors import DataError

ENV = os.environ | {"OMP_NUM_THREADS": "1"}
TESTS = Path(__file__).resolve().parent
RECIPE = TESTS.parent / "recipes" / "WSJ0Mix"
SIGNALS = ["mix", "s1", "s2"]
FOLDERS = {s: s for s in SIGNALS}


def prepare(corpus: Path, save: Path, folders: dict = FOLDERS) -> list[str]:
    """What the WSJ0Mix recipe's data preparation does."""
    return write_split_csvs(
        str(corpus), str(save), folders, "wsj", optional=["tt_real"]
    )


def contents(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden ones too), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_failed_preparation_leaves_the_csvs_as_they_were(tmp_path):
    """A rerun on another corpus that lacks its cv split: every split is
    checked before any CSV is written, so the CSVs stay those of the
    first corpus (none of the second's)."""
    save = tmp_path / "save"
    prepare(write_corpus(tmp_path / "a", seed=0), save)
    before = contents(save)
    other = write_corpus(tmp_path / "b", seed=1)
    shutil.rmtree(other / "wav8k/min/cv")
    with pytest.raises(FileNotFoundError, match="wav8k/min/cv/mix"):
        prepare(other, save)
    assert contents(save) == before


def test_incomplete_corpus_is_refused(tmp_path):
    """A corpus whose synthmix.json says "complete": false (its build was
    interrupted) is refused in one line, and no CSV is written."""
    corpus = write_corpus(tmp_path / "corpus")
    meta = {"generator": "lobes.synthmix", "complete": False}
    (corpus / "synthmix.json").write_text(json.dumps(meta))
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    line = str(error.value)
    assert line.startswith(f"{corpus} holds an incomplete corpus")
    assert '"complete": false' in line and "build it again" in line
    assert "\n" not in line and not (tmp_path / "save").exists()
    meta["complete"] = True
    (corpus / "synthmix.json").write_text(json.dumps(meta))
    assert prepare(corpus, tmp_path / "save") == ["tr", "cv", "tt"]


def test_corpus_of_more_speakers_than_num_spks_is_refused(tmp_path):
    """A 2-speaker recipe on a 3-speaker corpus (its folders, or CSVs
    prepared from it): one line saying so and what to pass."""
    corpus = write_corpus(tmp_path / "c", num_spks=3)
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "two")
    line = str(error.value)
    assert "has 3 speakers" in line and "s3" in line
    assert "num_spks is 2: pass --num_spks=3" in line
    assert not (tmp_path / "two").exists()
    three = tmp_path / "three"
    prepare(corpus, three, {s: s for s in [*SIGNALS, "s3"]})
    with pytest.raises(DataError, match="3 speakers, but num_spks is 2"):
        check_csv(str(three / "wsj_tt.csv"), "", 8000, SIGNALS)
    check_csv(str(three / "wsj_tt.csv"), "", 8000, [*SIGNALS, "s3"])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The test CSV of a tiny corpus and its rows."""
    root = tmp_path_factory.mktemp("prepared")
    prepare(write_corpus(root / "corpus"), root)
    with open(root / "wsj_tt.csv", newline="") as f:
        return root / "wsj_tt.csv", list(csv.DictReader(f))


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


BAD_CSVS = {  # name: (what to do to the CSV's lines, words of the line)
    "no ID column": (
        lambda lines: [lines[0].replace("ID,", "utt,"), *lines[1:]],
        ["has no ID column", "begins with the line ID,duration"],
    ),
    "too few fields": (
        lambda lines: [*lines[:2], ",".join(lines[2].split(",")[:5])],
        ["line 3 (ID ", "5 fields, but the header has 11"],
    ),
    "too many fields": (
        lambda lines: [lines[0], lines[1] + ",x", *lines[2:]],
        ["line 2 (ID ", "12 fields, but the header has 11"],
    ),
    "duplicate ID": (
        lambda lines: [*lines, lines[1]],
        ["line 4: the ID ", "is also that of line 2"],
    ),
    "duration abc": (
        lambda lines: [
            lines[0],
            lines[1].replace(lines[1].split(",")[1], "abc", 1),
            *lines[2:],
        ],
        ["line 2 (ID ", "the duration 'abc' is not a number"],
    ),
    "unknown variable": (
        lambda lines: [lines[0], lines[1].replace("/", "$nowhere/", 1)],
        ["line 2 (ID ", "refers to $nowhere", "only $data_root"],
    ),
}


@pytest.mark.parametrize("name", BAD_CSVS)
def test_bad_csv_is_named_in_one_line(name, prepared, tmp_path):
    """What SpeechBrain's load_data_csv fails on with a traceback (KeyError,
    TypeError, ValueError): one line naming the CSV, the row and the
    problem."""
    good, _ = prepared
    change, words = BAD_CSVS[name]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(change(lines_of(good))) + "\n")
    with pytest.raises(DataError) as error:
        check_csv(str(bad), "", 8000, SIGNALS)
    line = str(error.value)
    assert line.startswith(str(bad)) and "\n" not in line
    for word in words:
        assert word in line, (word, line)


def damaged(kind: str, rows: list[dict], folder: Path) -> tuple[Path, str]:
    """A copy of the first row's s1 damaged as ``kind``, and the CSV
    naming it instead (what a rerun of the recipe would read)."""
    path = folder / "s1.wav"
    data = Path(rows[0]["s1_wav"]).read_bytes()
    if kind == "header only":  # the first 44 bytes of a copy
        path.write_bytes(data[:44])
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # "no samples": a complete WAV file of none
        sf.write(path, np.zeros(0), 8000)
    table = folder / "tt.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{**rows[0], "s1_wav": str(path)}, *rows[1:]])
    return path, str(table)


@pytest.mark.parametrize(
    "kind, words",
    [
        ("header only", ["is truncated: its header says", "has 44"]),
        ("truncated", ["is truncated: its header says"]),
        ("no samples", ["holds no samples, only a header"]),
    ],
)
def test_damaged_wav_is_named(kind, words, prepared, tmp_path):
    """A header-only, truncated or empty source WAV: named, said damaged,
    with the fix (not the advice to use the 'min' version)."""
    _, rows = prepared
    path, table = damaged(kind, rows, tmp_path)
    with pytest.raises(DataError) as error:
        check_csv(table, "", 8000, SIGNALS)
    line = str(error.value)
    assert line.startswith(f"{path} ") and "\n" not in line
    assert "damaged" in line and "regenerate or copy it again" in line
    assert "'min'" not in line and f"row {rows[0]['ID']} of" in line
    for word in words:
        assert word in line, (word, line)


def test_lengths_that_differ_say_why(prepared, tmp_path):
    """Intact files of different lengths: sources shorter than their
    mixture (the 'max' version) get the 'min' advice; a mixture shorter
    than a source, that the files do not belong together."""
    _, rows = prepared
    table = tmp_path / "tt.csv"

    def check(signal: str, frames: int) -> str:
        audio, rate = sf.read(rows[0][f"{signal}_wav"])
        sf.write(tmp_path / f"{signal}.wav", audio[:frames], rate)
        row = {**rows[0], f"{signal}_wav": str(tmp_path / f"{signal}.wav")}
        with open(table, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerow(row)
        with pytest.raises(DataError) as error:
            check_csv(str(table), "", 8000, SIGNALS)
        return str(error.value)

    line = check("s2", 3000)
    assert "differ in length" in line and "use its 'min' version" in line
    line = check("mix", 3000)
    assert f"{tmp_path / 'mix.wav'} is shorter than the others" in line
    assert "do not belong together" in line and "'min'" not in line


KILL_DURING_LAST_SAVE = """
import json, os, sys
from pathlib import Path

tests, recipe, data, folder = sys.argv[1:]
sys.path[:0] = [tests, recipe]
os.chdir(recipe)
from faultrun import Faults, run_args, run_forked
import train  # noqa: F401 (imported once, before the forks)

data, folder = Path(data), Path(folder)
reference = folder / "reference"
code = run_forked(run_args(data, reference), folder / "ref", Faults())
assert code == 0, (folder / "ref.err").read_text()[-3000:]
events = (folder / "ref.events").read_text().splitlines()
last = max(
    n for n, e in enumerate(events, 1) if e == "torch.save masknet.ckpt"
)  # in the checkpoint of the end of the last epoch
out = folder / "out"
codes = [
    run_forked(run_args(data, out), folder / f"run{k}", Faults(kill_at))
    for k, kill_at in enumerate([last, 0])
]
print(json.dumps({
    "codes": codes,
    "log": (out / "train_log.txt").read_text(),
    "reference": (reference / "train_log.txt").read_text(),
}))
"""


def test_kill_during_the_epoch_checkpoint_logs_the_epoch_once(tmp_path):
    """kill -9 while the end-of-epoch checkpoint of the last epoch is
    written: the rerun resumes from the checkpoint before, and its
    train_log.txt is an uninterrupted run's (each epoch once)."""
    data = write_corpus(tmp_path / "data")
    run = subprocess.run(
        [sys.executable, "-c", KILL_DURING_LAST_SAVE]
        + [str(TESTS), str(RECIPE), str(data), str(tmp_path)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["codes"] == [-9, 0]

    epochs = [line.split(",")[0] for line in result["reference"].splitlines()]
    assert epochs[:2] == ["epoch: 1", "epoch: 2"]
    assert result["log"] == result["reference"]  # no epoch twice


def test_recipe_data_faults_end_in_one_line_before_training(tmp_path):
    """Through the recipe (run_recipe): a damaged source WAV and a corpus
    of 3 speakers for --num_spks=2 end with exit status 1 and one line,
    before any checkpoint."""
    clean = write_corpus(tmp_path / "clean")
    path = sorted((clean / "wav8k/min/tr/s1").iterdir())[0]
    path.write_bytes(path.read_bytes()[:44])
    three = write_corpus(tmp_path / "three", num_spks=3)
    for data, words in (
        (clean, [f"{path} is truncated", "wsj_tr.csv)"]),
        (three, ["has 3 speakers", "--num_spks=3"]),
    ):
        out = tmp_path / f"out-{data.name}"
        run = subprocess.run(
            [sys.executable, "train.py", *run_args(data, out)],
            cwd=RECIPE,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1, run.stderr[-3000:]
        assert lines[0].startswith("train.py: error: ")
        for word in words:
            assert word in lines[0], (word, lines[0])
        assert not list(out.glob("save/CKPT*"))
