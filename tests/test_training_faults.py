"""Training runs that survive faults, and bad input named in one line.

Kill -9 anywhere (inside checkpoint writes too) or a full disk during a
checkpoint save: the rerun ends with the result of a run never
interrupted (the runs are forked by tests/faultrun.py, which also runs the
20-point kill check on its own). Bad data in any split and a command line
that cannot work: one line naming the file or option, the problem and the
fix, before training. Checkpoints of plain SpeechBrain still load, and an
incomplete one is skipped and named.
"""

import builtins
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from faultrun import run_args
from sepdata import write_corpus

from hparams import MODELS, model_option

ENV = os.environ | {"OMP_NUM_THREADS": "1"}
KILL_POINTS = int(os.environ.get("LOBES_KILL_POINTS", "20"))
DRIVER = Path(__file__).resolve().with_name("faultrun.py")


def driver(scenario: str, folder: Path, *options: str) -> object:
    """Runs tests/faultrun.py (one driver process); its JSON result."""
    result = subprocess.run(
        [sys.executable, str(DRIVER), scenario, str(folder), *options],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_kill_anywhere_then_rerun_ends_as_uninterrupted(tmp_path):
    """kill -9 at LOBES_KILL_POINTS (default 20) random events of a run,
    inside checkpoint writes too, some reruns killed again: every final
    rerun writes the test_results.csv of the run never interrupted."""
    seed = os.environ.get("LOBES_KILL_SEED", "15")
    points = driver(
        "kill", tmp_path, f"--kill-points={KILL_POINTS}", f"--seed={seed}"
    )
    failed = [p for p in points if not p["same"]]
    assert not failed, json.dumps(failed, indent=1)
    killed = [e for p in points for e in p["killed at"]]
    assert len(killed) >= KILL_POINTS  # every run asked to die did die
    if KILL_POINTS >= 10:
        kinds = {e.split()[1] for e in killed}
        assert {"torch.save", "open", "rename", "unlink", "step"} <= kinds


def rewrite(path: Path, frames: int | None = None, bad: float = 0.0) -> None:
    """Rewrites an audio file: ``frames`` long, and with ``bad`` (NaN or
    inf) at its 10th sample (as 32-bit float, which can hold it)."""
    audio, rate = sf.read(path, dtype="float32")
    if frames is not None:
        audio = np.resize(audio, frames)
    if bad:
        audio[10] = bad
    sf.write(path, audio, rate, subtype="FLOAT" if bad else "PCM_16")


def row_files(data: Path, split: str) -> list[Path]:
    """The files of a split's first row (mixture first, then sources)."""
    folder = data / "wav8k" / "min" / split
    name = sorted((folder / "mix").iterdir())[0].name
    return [folder / signal / name for signal in ("mix", "s1", "s2")]


def unwritable(folder: Path) -> Path:
    """An output folder that cannot be made (root writes anywhere but in
    /sys)."""
    if os.geteuid() == 0:
        return Path("/sys/sepformer-lobes-test/out")
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


def nan_in(split, signal, bad=float("nan")):
    def setup(data):
        path = row_files(data, split)[("mix", "s1", "s2").index(signal)]
        rewrite(path, bad=bad)
        return path, []

    return setup


def short_in(split, frames):
    def setup(data):
        for path in row_files(data, split):
            rewrite(path, frames)
        return row_files(data, split)[0], []

    return setup


def not_audio(data):
    path = row_files(data, "tt")[1]
    path.write_text("ID,mix_wav\n")  # a CSV where audio should be
    return path, []


def empty(data):
    path = row_files(data, "cv")[0]
    path.write_bytes(b"")
    return path, []


def option(*argv, path=None):
    def setup(data):
        return path, list(argv)

    return setup


# name: (setup(data) -> (the file named, extra argv), exit status, words)
FIX = "remove it from the data"
CASES = {
    "nan-test-s2": (nan_in("tt", "s2"), 1, ["1 NaN or infinite", FIX]),
    "inf-valid-mix": (
        nan_in("cv", "mix", float("inf")),
        1,
        ["1 NaN or infinite", FIX],
    ),
    "nan-train-s1": (nan_in("tr", "s1"), 1, ["NaN or infinite", FIX]),
    "short-train": (
        short_in("tr", 10),
        1,
        ["has 10 samples", "encoder's kernel", "remove its row"],
    ),
    "short-valid": (
        short_in("cv", 12),
        1,
        [
            "has 12 samples",
            "the 16 that the encoder's kernel",
            "remove its row",
        ],
    ),
    "short-test": (
        short_in("tt", 300),
        1,
        ["has 300 samples", "512-tap", "remove its row"],
    ),
    "not-audio-in-csv": (
        not_audio,
        1,
        ["is not an audio file", "convert it to WAV"],
    ),
    "empty-file": (empty, 1, ["is empty (0 bytes)", "copy or write it"]),
    "N_epoch": (
        option("--N_epoch=2"),
        2,
        ["unknown key --N_epoch", "Did you mean --N_epochs?"],
    ),
}


def tiny_model(**changes) -> str:
    """``--model=`` of the tiny RE-SepFormer of the runs, with changes."""
    return f"--model={model_option(MODELS['resepformer'].tiny | changes)}"


def loader(**options) -> str:
    """``--dataloader_opts=`` of the runs, with changes."""
    return f"--dataloader_opts={model_option({'batch_size': 2} | options)}"


LEFT_OUT = "(left out)"  # --option=(left out): the run without --option
# name: (argv that replaces the run's options of the same name, words)
OPTION_CASES = {
    "lr": (["--lr=-1"], ["--lr=-1: expected a number > 0"]),
    "N_epochs-abc": (["--N_epochs=abc"], ["--N_epochs=abc: expected an int"]),
    "N_epochs-negative": (["--N_epochs=-1"], ["--N_epochs=-1: ", ">= 1"]),
    "seed": (["--seed=abc"], ["--seed=abc: expected an integer >= 0"]),
    "sample_rate": (["--sample_rate=abc"], ["--sample_rate=abc: expected"]),
    "num_spks": (["--num_spks=0"], ["--num_spks=0: expected an integer"]),
    "clip_grad_norm": (["--clip_grad_norm=abc"], ["=abc: expected a number"]),
    "threshold": (["--threshold=abc"], ["--threshold=abc: expected a num"]),
    "training_signal_len": (
        ["--limit_training_signal_len=True", "--training_signal_len=-5"],
        ["--training_signal_len=-5: expected an integer >= 1"],
    ),
    "chunk_size": (
        [tiny_model(chunk_size=0)],
        ["--model: chunk_size=0: expected an integer >= 1"],
    ),
    "causal": (
        [tiny_model(causal="maybe")],
        ["--model: causal=maybe: expected True or False"],
    ),
    "nhead-not-dividing": (
        [tiny_model(nhead=3)],
        ["--model={N_encoder_out: 16", "cannot be built", "nhead=3"],
    ),
    "model-not-a-mapping": (["--model=5"], ["--model=5: expected a mapping"]),
    "checkpoint-interval": (
        ["--ckpt_interval_minutes=15", "--ckpt_interval_steps=3"],
        ["--ckpt_interval_steps=3 with ckpt_interval_minutes=15", "=0 with"],
    ),
    "model-not-yaml": (["--model={bad yaml"], ["--model={bad yaml: not YAML"]),
    "batch_size": (
        [loader(batch_size=0, num_workers=0)],
        ["--dataloader_opts: batch_size=0: expected an integer >= 1"],
    ),
    "batch_size-word": (
        [loader(batch_size="two", num_workers=0)],
        ["--dataloader_opts: batch_size=two: expected an integer"],
    ),
    "num_workers": (
        [loader(num_workers=-1)],
        ["--dataloader_opts: num_workers=-1: expected an integer >= 0"],
    ),
    "eval-batch_size": (  # failed after a whole epoch
        ["--eval_dataloader_opts={batch_size: 0}"],
        ["--eval_dataloader_opts: batch_size=0: expected an integer >= 1"],
    ),
    "loader-not-a-mapping": (
        ["--dataloader_opts=3"],
        ["--dataloader_opts=3: expected a mapping"],
    ),
    "speed_changes": (["--speed_changes=abc"], ["=abc: expected a list"]),
    "dynamic_mixing-no": (  # "no" is a string: it turned dynamic mixing on
        ["--dynamic_mixing=no"],
        ["--dynamic_mixing=no: expected True or False"],
    ),
    "skip_prep-no": (["--skip_prep=no"], ["--skip_prep=no: expected True"]),
    "data_folder-empty": (["--data_folder="], ["--data_folder=: expected"]),
    "data_folder-missing": (
        [f"--data_folder={LEFT_OUT}"],
        ["--data_folder is required", "pass --data_folder="],
    ),
    "given-twice": (["--seed=1", "--seed=2"], ["--seed is given twice"]),
    "device": (["--device=cuda:99"], ["--device=cuda:99: ", "--device=cpu"]),
    "hparams-missing": (
        ["hparams/nope.yaml"],
        ["hparams/nope.yaml: no such hparams file", "hparams/resepformer.yaml"],
    ),
    "test_only-untrained": (
        ["--test_only"],
        ["--test_only: no checkpoint in", "train first"],
    ),
}


def with_options(argv: list[str], options: list[str]) -> list[str]:
    """``argv`` with ``options`` instead of its options of the same names
    (``--option=(left out)``: none); a YAML file replaces the run's."""
    names = {o.split("=", 1)[0] for o in options}
    kept = [a for a in argv if a.split("=", 1)[0] not in names]
    given = [o for o in options if not o.endswith(f"={LEFT_OUT}")]
    if given and not given[0].startswith("--"):
        return [given[0], *kept[1:], *given[1:]]
    return [*kept, *given]


def read_only(tmp: Path) -> Path:
    """An existing folder that cannot be written in (root writes
    anywhere but in /sys)."""
    if os.geteuid() == 0:
        return Path("/sys")
    tmp.chmod(0o555)
    return tmp


OUTPUT_CASES = {  # name: (option, its folder(tmp), words)
    "output-unwritable": (
        "output_folder",
        unwritable,
        ["pass a folder you can write to"],
    ),
    "output-is-a-file": (
        "output_folder",
        lambda tmp: tmp / "file" if (tmp / "file").touch() is None else None,
        ["is a file, not a folder", "pass a folder"],
    ),
    "output-empty": (
        "output_folder",
        lambda tmp: "",
        ["--output_folder=:", "give the folder"],
    ),
    "save-folder-read-only": (
        "save_folder",
        read_only,
        ["--save_folder=", "cannot write in", "pass a folder you can write"],
    ),
}


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict:
    """Every case of `CASES`, `OUTPUT_CASES`, `OPTION_CASES` and two more
    (NaN estimates; a full disk), run by one driver."""
    root = tmp_path_factory.mktemp("faults")
    clean = write_corpus(root / "clean", "wsj0-2mix")
    cases = {}
    for name, (setup, _, _) in CASES.items():
        data = root / name / "data"
        shutil.copytree(clean, data)
        named, extra = setup(data)
        out = root / name / "out"
        cases[name] = {"argv": run_args(data, out, *extra), "out": str(out)}
        cases[name]["named"] = str(named) if named else None
    for name, (option, folder, _) in OUTPUT_CASES.items():
        (root / name).mkdir()
        given = folder(root / name)
        out = given if option == "output_folder" else root / name / "out"
        argv = run_args(clean, out or Path("x"))
        argv = with_options(argv, [f"--{option}={given}"])
        cases[name] = {"argv": argv, "out": str(out or root / name / "none")}
    for name, (options, _) in OPTION_CASES.items():
        out = root / name / "out"
        argv = with_options(run_args(clean, out), options)
        cases[name] = {"argv": argv, "out": str(out)}
    out = root / "nan-estimates" / "out"
    nan_ids = [row_files(clean, s)[0].stem for s in ("cv", "tt")]
    cases["nan-estimates"] = {
        "argv": run_args(clean, out),
        "out": str(out),
        "nan_ids": nan_ids,
    }
    spec = root / "cases.json"
    spec.write_text(json.dumps(cases))
    results = driver("checks", root, f"--cases={spec}")
    for name, case in cases.items():
        results[name]["case"] = case
    return results


def one_line(result: dict) -> str:
    """The one line a failed run printed on stderr (no traceback)."""
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result["stderr"], lines
    assert lines[0].startswith("train.py: error: ")
    return lines[0]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_fails_before_training_in_one_line(name, checks):
    """Bad data in any split (NaN, inf, too short, not audio, empty) and
    an unknown option: one line naming the file (or option), the problem
    and the fix, with exit status 1 (data) or 2 (usage), before training."""
    _, status, words = CASES[name]
    result = checks[name]
    line = one_line(result)
    assert result["code"] == status, line
    for word in words:
        assert word in line, (word, line)
    named = result["case"]["named"]
    if named is not None:
        assert named in line
    if name == "N_epoch":
        assert "Valid keys" not in line  # no list of 60 keys
    assert not result["checkpoints"]  # training never started


@pytest.mark.parametrize("name", OUTPUT_CASES)
def test_output_folder_that_cannot_be_used(name, checks):
    result = checks[name]
    line = one_line(result)
    assert result["code"] == 2, line
    for word in OUTPUT_CASES[name][2]:
        assert word in line, (word, line)


@pytest.mark.parametrize("name", OPTION_CASES)
def test_bad_option_value_refused_before_any_work(name, checks):
    """A value of the wrong type or range (yes/no options: True or False
    only), a model its options cannot build, overrides that are not YAML,
    a required option left out, a missing hparams file or device,
    --test_only without a checkpoint: one line naming the option, the
    value and what it takes, exit status 2, nothing written but logs."""
    result = checks[name]
    line = one_line(result)
    assert result["code"] == 2, line
    for word in OPTION_CASES[name][1]:
        assert word in line, (word, line)
    out = Path(result["case"]["out"])
    assert not result["checkpoints"] and not list(out.glob("save/*.csv"))
    assert not (out / "hyperparams.yaml").exists()


def test_full_disk_during_checkpoint_keeps_the_previous_one(checks):
    """ENOSPC halfway through a checkpoint: one line naming the checkpoint
    kept, no partial one left; the rerun resumes from it and ends as a run
    that never failed."""
    result = checks["disk"]
    assert result["code"] == 1, result["stderr"]
    line = one_line(result)
    assert line.startswith("train.py: error: Cannot save a checkpoint in")
    assert "No space left on device" in line and "free some space" in line
    (kept,) = result["left"]  # no partial checkpoint left behind
    assert kept.startswith("CKPT+") and f"one, {kept}, is kept" in line
    assert result["rerun code"] == 0
    loaded = result["rerun log"].split("Loading a checkpoint from ")[1]
    assert loaded.startswith(str(Path(result["save"]) / kept))
    assert result["same"]


def test_nan_scores_are_named_not_left_out_silently(checks):
    """A validation and a test utterance with NaN estimates: each named in
    the log; the averages are those of the other utterances."""
    result = checks["nan-estimates"]
    assert result["code"] == 0, result["stderr"][-3000:]
    valid_id, test_id = result["case"]["nan_ids"]
    log = result["stdout"]
    left_out = "1 utterance(s) with a non-finite loss, left out of the average"
    assert f"valid: {left_out}: {valid_id}" in log
    assert f"test: {left_out}: {test_id}" in log
    assert "1 of 2 test utterances have non-finite" in log
    rows = list(csv.DictReader(io.StringIO(result["results"])))
    (nan_row,) = [r for r in rows if r["snt_id"] == test_id]
    (good,) = [r for r in rows if r["snt_id"] not in (test_id, "avg")]
    assert np.isnan(float(nan_row["si-snr"]))
    assert float(rows[-1]["si-snr"]) == float(good["si-snr"])  # the avg row
    assert "nan" not in result["train_log"].lower()


def test_logs_name_the_loss_and_no_torchvision_line(checks):
    """The train log says "si-snr loss" (the loss, -SI-SNR), the results
    say dB; nothing about torchvision on a run."""
    result = checks["nan-estimates"]
    log = result["train_log"]
    assert "valid si-snr loss: " in log and "test si-snr loss: " in log
    assert "valid si-snr: " not in log
    assert "Mean si-snr is " in result["stdout"]
    assert "torchvision" not in result["stdout"] + result["stderr"]


# ------------------------------------------- checkpoints, in this process


def saved_twice(folder: Path, checkpointer_class) -> tuple[list, list]:
    """Two checkpoints of a small model and an epoch counter, saved by
    ``checkpointer_class``; their folders and the weights of each."""
    from speechbrain.utils.epoch_loop import EpochCounter

    model, counter = torch.nn.Linear(3, 2), EpochCounter(5)
    saver = checkpointer_class(folder, {"model": model, "counter": counter})
    folders, weights = [], []
    for _ in range(2):
        next(counter)
        torch.nn.init.normal_(model.weight)
        weights.append(model.weight.detach().clone())
        folders.append(saver.save_checkpoint(end_of_epoch=True).path)
    return folders, weights


def recovered(folder: Path):
    """What our Checkpointer recovers from ``folder`` (model, counter)."""
    from speechbrain.utils.epoch_loop import EpochCounter

    from lobes.training.checkpoints import Checkpointer
    from lobes.training.random_state import RandomState

    model, counter = torch.nn.Linear(3, 2), EpochCounter(5)
    loader = Checkpointer(folder, {"model": model, "counter": counter})
    loader.add_recoverable("rng", RandomState(), optional_load=True)
    return loader.recover_if_possible(), model, counter


def test_speechbrain_checkpoints_load_both_ways(tmp_path):
    """Checkpoints of SpeechBrain's own Checkpointer load (without the
    random state, which runs saved before lack), and ours load with
    SpeechBrain's: the format is the same."""
    from speechbrain.utils.checkpoints import Checkpointer as SBCheckpointer

    from lobes.training.checkpoints import Checkpointer

    folders, weights = saved_twice(tmp_path / "sb", SBCheckpointer)
    checkpoint, model, counter = recovered(tmp_path / "sb")
    assert checkpoint.path == folders[1] and counter.current == 2
    assert torch.equal(model.weight, weights[1])
    folders, weights = saved_twice(tmp_path / "ours", Checkpointer)
    model = torch.nn.Linear(3, 2)
    loader = SBCheckpointer(tmp_path / "ours", {"model": model})
    loader.allow_partial_load = True  # our counter is not registered here
    assert loader.recover_if_possible().path == folders[1]
    assert torch.equal(model.weight, weights[1])
    assert not list((tmp_path / "ours").glob(".*"))  # nothing hidden left


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {  # what a kill inside SpeechBrain's own checkpoint write leaves
    "CKPT.yaml empty": lambda f: (f / "CKPT.yaml").write_text(""),
    "CKPT.yaml only begun": lambda f: (f / "CKPT.yaml").write_text(
        "# yamllint disable\n"
    ),
    "weights missing": lambda f: (f / "model.ckpt").unlink(),
    "weights truncated": lambda f: truncate(f / "model.ckpt"),
    "counter empty": lambda f: (f / "counter.ckpt").write_text(""),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_incomplete_checkpoint_is_skipped_and_named(damage, tmp_path, caplog):
    """The newest checkpoint left incomplete by plain SpeechBrain: recovery
    names it in one line and loads the previous complete one."""
    from speechbrain.utils.checkpoints import Checkpointer as SBCheckpointer

    folders, weights = saved_twice(tmp_path, SBCheckpointer)
    DAMAGE[damage](folders[1])
    with caplog.at_level("WARNING", logger="lobes.training.checkpoints"):
        checkpoint, model, counter = recovered(tmp_path)
    assert checkpoint.path == folders[0] and counter.current == 1
    assert torch.equal(model.weight, weights[0])
    (warning,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "lobes.training.checkpoints" and r.levelname == "WARNING"
    ]
    assert f"Skipping checkpoint {folders[1]}: " in warning
    assert "\n" not in warning and "previous complete checkpoint" in warning


def test_checkpoint_of_another_model_size_fails_in_one_line(tmp_path):
    from lobes.training.checkpoints import Checkpointer
    from lobes.training.errors import CheckpointError

    folders, _ = saved_twice(tmp_path, Checkpointer)
    loader = Checkpointer(tmp_path, {"model": torch.nn.Linear(4, 2)})
    with pytest.raises(CheckpointError) as error:
        loader.recover_if_possible()
    message = str(error.value)
    assert message.startswith(f"Cannot load checkpoint {folders[1]}: ")
    assert "size mismatch" in message and "\n" not in message
    assert "--output_folder" in message


@pytest.mark.parametrize(
    "error, status",
    [
        ("UsageError", 2),
        ("OverrideError", 2),
        ("DataError", 1),
        ("CheckpointError", 1),
        ("FileNotFoundError", 1),
    ],
)
def test_run_recipe_ends_in_one_line_or_the_traceback(
    error, status, monkeypatch, capsys
):
    """One line and the exit status; the traceback with LOBES_DEBUG=1."""
    from lobes.training import errors, overrides
    from lobes.training.recipe import run_recipe

    kind = (
        getattr(errors, error, None)
        or getattr(overrides, error, None)
        or getattr(builtins, error)
    )

    def main(argv):
        raise kind(f"{argv[0]}: the problem, what to do.")

    monkeypatch.setattr(sys, "argv", ["train.py", "x.yaml"])
    monkeypatch.delenv("LOBES_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        run_recipe(main)
    assert exit_.value.code == status
    line = "train.py: error: x.yaml: the problem, what to do.\n"
    assert capsys.readouterr().err == line
    monkeypatch.setenv("LOBES_DEBUG", "1")
    with pytest.raises(kind):
        run_recipe(main)
