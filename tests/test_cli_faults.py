"""Faults a hostile but realistic user meets with ``python -m lobes.separate``
and ``python -m lobes.export``: each bad input gets one line (the file, the
problem, what to do) and the right exit status (2: a command line that
cannot work, 1: a failure), the traceback only under ``--debug`` or
``LOBES_DEBUG=1``; nothing is lost (no input written over, no existing
output replaced without ``--overwrite``, no partial file after a full disk,
a failed export leaves the folder it would replace as it was, no empty
output folder; a damaged checkpoint is skipped, as training's recovery
does); ``--help`` answers without importing torch."""

import errno
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_export import fake_run
from test_separate import RATE, RESEPFORMER, pretrained_folder, tones

from hparams import MODELS
from lobes import files
from lobes.errors import CommandError, interrupt_on_terminate, report_errors
from lobes.inference.cli import export_main, separate_main
from lobes.inference.loading import PretrainedError
from lobes.inference.separator import Separator
from lobes.resepformer import RESepFormer

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")


def call(main, argv: list[str], capsys) -> tuple[int, str]:
    """The exit status and everything printed."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> its hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A good tiny pretrained folder, and broken variants of it."""
    root = tmp_path_factory.mktemp("models")
    good = pretrained_folder(root / "good", causal=False)
    causal = pretrained_folder(root / "causal", causal=True)
    yaml = (good / "hyperparams.yaml").read_text()

    def variant(name: str, edit) -> Path:
        folder = root / name
        shutil.copytree(good, folder)
        edit(folder)
        return folder

    def truncate(folder: Path) -> None:
        data = (folder / "masknet.ckpt").read_bytes()
        (folder / "masknet.ckpt").write_bytes(data[: len(data) // 2])

    def other_size(folder: Path) -> None:
        masknet = RESepFormer(**(RESEPFORMER | {"in_channels": 32}))
        torch.save(masknet.state_dict(), folder / "masknet.ckpt")

    def missing_key(folder: Path) -> None:
        state = torch.load(folder / "masknet.ckpt")
        del state["head.weight"]
        torch.save(state, folder / "masknet.ckpt")

    def yaml_edit(old: str, new: str):
        def edit(folder: Path) -> None:
            assert old in yaml
            (folder / "hyperparams.yaml").write_text(yaml.replace(old, new))

        return edit

    run = root / "run"  # a recipe output folder, as train.py leaves it
    run.mkdir()
    (run / "hyperparams.yaml").write_text("seed: 1\n")
    (run / "save" / "CKPT+2026").mkdir(parents=True)
    (run / "save" / "CKPT+2026" / "CKPT.yaml").write_text("end-of-epoch: 1\n")
    (root / "run_without_save").mkdir()
    (root / "run_without_save" / "hyperparams.yaml").write_text("seed: 1\n")
    return {
        "run_without_save": root / "run_without_save",
        "good": good,
        "causal": causal,
        "run": run,
        "checkpoint": run / "save" / "CKPT+2026",
        "truncated": variant("truncated", truncate),
        "other_size": variant("other_size", other_size),
        "missing_key": variant("missing_key", missing_key),
        "wrong_class": variant(
            "wrong_class", yaml_edit("resepformer.RESepFormer", "nowhere.X")
        ),
        "wrong_argument": variant(
            "wrong_argument", yaml_edit("nhead:", "n_head:")
        ),
        "bad_yaml": variant(
            "bad_yaml", yaml_edit("num_spks: 2\n", "num_spks: [2\n")
        ),
    }


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "mix.wav", tones(1.0, RATE), RATE)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("not audio")
    (folder / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    sf.write(folder / "huge.wav", 1e30 * tones(1.0, RATE), RATE, "FLOAT")
    sf.write(folder / "cut.flac", tones(4.0, RATE), RATE)
    data = (folder / "cut.flac").read_bytes()
    (folder / "cut.flac").write_bytes(data[: len(data) // 2])
    return {
        "huge": folder / "huge.wav",
        "cut": folder / "cut.flac",
        "device": Path("/dev/null"),
        "mix": folder / "mix.wav",
        "empty": folder / "empty.wav",
        "notes": folder / "notes.wav",
        "a_folder": folder / "a_folder",
        "a_file": tmp_path / "a_file",
    }


# case: (input, model, extra flags) -> (exit status, the line's text); the
# line names the file (or flag) at fault
SEPARATE_CASES = {
    "input is a folder": (
        "a_folder",
        "good",
        [],
        1,
        "{a_folder} is a folder, not an audio file: pass the files in it",
    ),
    "empty 0-byte input": (
        "empty",
        "good",
        [],
        1,
        "{empty} is an empty file (0 bytes): nothing to separate",
    ),
    "non-audio input": ("notes", "good", [], 1, "{notes} cannot be read as"),
    "--out is a file": (
        "mix",
        "good",
        ["--out", "{a_file}"],
        2,
        "--out {a_file} is a file, not a folder. Choose another folder.",
    ),
    "--model is a recipe run": (
        "mix",
        "run",
        [],
        2,
        "--model {run} is a recipe run folder, not a pretrained folder: "
        "export it first (python -m lobes.export {run} OUT_DIR)",
    ),
    "--model is a run without save/": (
        "mix",
        "run_without_save",
        [],
        2,
        "--model {run_without_save} is not a pretrained folder "
        "(hyperparams.yaml has no pretrainer). If it is a recipe run, export "
        "it first",
    ),
    "--model is a checkpoint": (
        "mix",
        "checkpoint",
        [],
        2,
        "--model {checkpoint} is a training checkpoint: export it first",
    ),
    "truncated masknet.ckpt": (
        "mix",
        "truncated",
        [],
        1,
        "{truncated}/masknet.ckpt cannot be read: truncated or corrupt",
    ),
    "checkpoint of another size": (
        "mix",
        "other_size",
        [],
        1,
        "{other_size}/masknet.ckpt does not match hyperparams.yaml: 47 "
        "tensors differ in shape, e.g. intra1.layers.0.norm1.weight [32] vs "
        "[16]",
    ),
    "masknet.ckpt with a key missing": (
        "mix",
        "missing_key",
        [],
        1,
        "{missing_key}/masknet.ckpt does not match hyperparams.yaml: 1 "
        "missing, e.g. head.weight",
    ),
    "YAML names a missing class": (
        "mix",
        "wrong_class",
        [],
        1,
        "{wrong_class}/hyperparams.yaml names a missing class: There is no "
        "such class as lobes.nowhere.X",
    ),
    "YAML has a wrong argument": (
        "mix",
        "wrong_argument",
        [],
        1,
        "{wrong_argument}/hyperparams.yaml has a wrong argument for "
        "lobes.resepformer.RESepFormer: RESepFormer.__init__() got an "
        "unexpected keyword argument 'n_head'",
    ),
    "bad YAML": (
        "mix",
        "bad_yaml",
        [],
        1,
        "{bad_yaml}/hyperparams.yaml is not valid YAML (line 6: expected ',' "
        "or ']', but got ':', while parsing a flow sequence opened on line 4)",
    ),
    "--device cuda without a GPU": (
        "mix",
        "good",
        ["--device", "cuda"],
        2,
        "--device cuda: no CUDA GPU is available here",
    ),
    "--device that does not exist": (
        "mix",
        "good",
        ["--device", "gpu7"],
        2,
        "--device gpu7: not a device",
    ),
    "--device of another kind": (
        "mix",
        "good",
        ["--device", "mps"],
        2,
        "--device mps: this package runs on cpu or cuda (cuda:N), not mps.",
    ),
    "--savedir is a file": (
        "mix",
        "good",
        ["--savedir", "{a_file}"],
        2,
        "--savedir {a_file} is a file, not a folder. Choose another folder.",
    ),
    "--window under the model's shortest input": (
        "mix",
        "good",
        ["--mode", "windowed", "--window", "0.001", "--overlap", "0.0005"],
        2,
        "--window 0.001 is 8 samples, under the model's shortest input (16 "
        "samples, 0.002 s): pass another value.",
    ),
    "--overlap under one sample": (
        "mix",
        "good",
        ["--overlap", "0.00001"],
        2,
        "--overlap 1e-05 is under one sample at 8000 Hz: pass another value.",
    ),
    "--window beyond any length": (
        "mix",
        "good",
        ["--window", "1e308", "--max-pass", "0"],
        2,
        "--window 1e+308 is not a length in seconds: pass another value.",
    ),
    "input is a device": (
        "device",
        "good",
        [],
        1,
        "/dev/null is not a regular file (a device or a pipe): save the "
        "recording to a file first.",
    ),
    "input far beyond the model's scale": (
        "huge",
        "good",
        [],
        1,
        "{huge}: the separation gave NaN or infinite values (the mixture's "
        "peak is 4.97e+29): scale the mixture to about [-1, 1]",
    ),
    "truncated input": (
        "cut",
        "good",
        [],
        1,
        "{cut} cannot be read to the end",
    ),
    "truncated input, streamed": (
        "cut",
        "causal",
        ["--stream"],
        1,
        "{cut} cannot be read to the end",
    ),
    "--threads -1": (
        "mix",
        "good",
        ["--threads", "-1"],
        2,
        "argument --threads: must be at least 1, got -1",
    ),
    "--threads 0": (
        "mix",
        "good",
        ["--threads", "0"],
        2,
        "argument --threads: must be at least 1, got 0",
    ),
    "--block 0": (
        "mix",
        "causal",
        ["--stream", "--block", "0"],
        2,
        "argument --block: must be more than 0 seconds, got 0",
    ),
    "--block under one sample": (
        "mix",
        "causal",
        ["--stream", "--block", "0.00001"],
        2,
        "--block 1e-05 is shorter than one sample at the model's 8000 Hz",
    ),
    "--window 0": (
        "mix",
        "good",
        ["--window", "0"],
        2,
        "argument --window: must be more than 0 seconds, got 0",
    ),
    "--overlap over half of --window": (
        "mix",
        "good",
        ["--window", "3"],
        2,
        "--overlap 2.0 must be at most half of --window 3.0",
    ),
    "--max-pass -1": (
        "mix",
        "good",
        ["--max-pass", "-1"],
        2,
        "argument --max-pass: must be at least 0 seconds, got -1",
    ),
    "--normalize with --stream": (
        "mix",
        "causal",
        ["--stream", "--normalize"],
        2,
        "--normalize scales each output by its peak over the whole file",
    ),
}


@pytest.mark.parametrize("case", SEPARATE_CASES)
def test_separate_names_each_fault_in_one_line(
    case, models, inputs, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("LOBES_DEBUG", raising=False)
    source, model, flags, status, expected = SEPARATE_CASES[case]
    names = {k: str(v) for k, v in (models | inputs).items()}
    out = tmp_path / "out"
    argv = [inputs[source], "--model", models[model], "--no-progress"]
    flags = [flag.format(**names) for flag in flags]
    if "--out" not in flags:
        argv += ["--out", out]
    got, text = call(separate_main, argv + flags, capsys)
    assert (got, "Traceback" not in text) == (status, True), text
    assert expected.format(**names) in text
    lines = text.strip().splitlines()
    if "argument --" in expected:  # argparse: the usage, then the line
        assert lines[-1].startswith("python -m lobes.separate: error: ")
    elif source == "mix":  # the input is fine: the command cannot run
        assert len(lines) == 1, text  # one line, "prog: error: ..."
    else:  # the input's line, then the summary with it
        assert f"Separated 0 of 1 file(s) into {out}; 1 failed:" in text
    assert not out.exists()  # nothing written, no empty folder


def test_debug_and_lobes_debug_show_the_traceback(models, inputs, tmp_path):
    argv = [str(inputs["mix"]), "--model", str(models["truncated"])]
    argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(CommandError, match="truncated or corrupt"):
        separate_main(argv + ["--debug"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOBES_DEBUG", "1")
        with pytest.raises(CommandError) as raised:
            separate_main(argv)
    assert raised.value.__cause__ is not None  # the original, chained


def test_debug_logs_the_traceback_of_a_failed_file(
    models, inputs, tmp_path, caplog
):
    argv = [inputs["huge"], "--model", models["good"], "--no-progress"]
    argv += ["--out", tmp_path / "out", "--debug"]
    with caplog.at_level(logging.ERROR, logger="lobes"):
        assert separate_main([str(a) for a in argv]) == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "NaN or infinite" in record.getMessage()
    assert record.exc_info[0].__name__ == "AudioInputError"  # the traceback


def test_a_truncated_wav_is_separated_with_a_warning(models, tmp_path, caplog):
    mix = tmp_path / "cut.wav"
    sf.write(mix, tones(1.0, RATE), RATE, subtype="PCM_16")
    mix.write_bytes(mix.read_bytes()[: 44 + 2 * 6000])  # 6000 of 8000
    argv = [mix, "--model", models["good"], "--out", tmp_path / "out"]
    with caplog.at_level(logging.WARNING, logger="lobes"):
        assert separate_main([str(a) for a in argv + ["--no-progress"]]) == 0
    warning = (
        f"{mix} is truncated: its header declares 8000 samples, the file "
        "holds 6000; separating those."
    )
    assert caplog.messages.count(warning) == 1  # once, where it is read
    assert sf.info(str(tmp_path / "out" / "cut_s1.wav")).frames == 6000


def test_weights_of_another_fit_are_refused_from_python(models):
    with pytest.raises(PretrainedError, match="1 missing, e.g. head.weight"):
        Separator.from_pretrained(models["missing_key"])


def test_interrupts_are_one_line(capsys, monkeypatch):
    """Ctrl-C, and SIGTERM once `interrupt_on_terminate` is installed (as
    the programs do), stop a command with one line and status 130."""

    def interrupted() -> int:
        raise KeyboardInterrupt

    assert report_errors("prog", interrupted, lambda error: None) == 130
    assert capsys.readouterr().err == "prog: interrupted.\n"
    handler = signal.getsignal(signal.SIGTERM)
    try:
        interrupt_on_terminate()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises first
    finally:
        signal.signal(signal.SIGTERM, handler)


def test_help_does_not_import_torch():
    """``--help`` answers from the parser alone: torch, SpeechBrain and the
    audio libraries are imported only once a command runs."""
    code = (
        "import runpy, sys\n"
        "for name in ('lobes.separate', 'lobes.export'):\n"
        "    sys.argv = [name, '--help']\n"
        "    try:\n"
        "        runpy.run_module(name, run_name='__main__')\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "heavy = ('torch', 'speechbrain', 'numpy', 'soundfile')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert result.stdout.splitlines()[-1] == "[]", result.stdout
    assert "--normalize" in result.stdout and "--overwrite" in result.stdout


# --------------------------------------------------------------------------
# Separated files: nothing lost
# --------------------------------------------------------------------------


def test_an_input_is_never_written_over(models, tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    sf.write(folder / "a.wav", tones(1.0, RATE), RATE)
    sf.write(folder / "a_s1.wav", 0.5 * tones(1.0, RATE), RATE)
    before = digest(folder)
    argv = [folder / "a.wav", folder / "a_s1.wav", "--model", models["good"]]
    status, text = call(separate_main, argv + ["--out", folder], capsys)
    assert status == 2
    assert (
        f"{folder / 'a_s1.wav'} (an output of {folder / 'a.wav'}) would be "
        f"written over the input {folder / 'a_s1.wav'}: choose another --out"
    ) in text
    assert digest(folder) == before  # nothing written at all
    # not even with --overwrite
    argv += ["--out", folder, "--overwrite"]
    assert call(separate_main, argv, capsys)[0] == 2
    assert digest(folder) == before


def test_existing_outputs_need_overwrite(models, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mix_s2.wav").write_text("mine")
    argv = [inputs["mix"], "--model", models["good"], "--out", out]
    status, text = call(separate_main, argv, capsys)
    assert status == 2
    assert f"{out / 'mix_s2.wav'} already exists: pass --overwrite" in text
    assert sorted(p.name for p in out.iterdir()) == ["mix_s2.wav"]
    assert (out / "mix_s2.wav").read_text() == "mine"
    assert call(separate_main, argv + ["--overwrite"], capsys)[0] == 0
    assert sf.info(out / "mix_s2.wav").frames == RATE


def test_a_failed_rename_puts_every_old_output_back(
    models, inputs, tmp_path, capsys, monkeypatch
):
    """The second output's rename fails (--overwrite): the first output,
    already renamed into place, gets its old file back; all or none."""
    out = tmp_path / "out"
    out.mkdir()
    for k in (1, 2):
        sf.write(out / f"mix_s{k}.wav", np.full(10, k / 10), RATE)
    before = digest(out)
    real_replace, calls = os.replace, []

    def second_fails(src, dst):  # the second call only
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EACCES, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", second_fails)
    argv = [inputs["mix"], "--model", models["good"], "--out", out]
    status, text = call(separate_main, argv + ["--overwrite"], capsys)
    assert status == 1 and "nothing was written for it" in text
    assert digest(out) == before  # s1 restored, nothing hidden left
    assert [Path(d).name for d in calls][:2] == ["mix_s1.wav", "mix_s2.wav"]


def test_a_rerun_removes_what_a_killed_run_left(models, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    left = files.temp_path(out / "mix_s2.wav")  # SIGKILL: nothing removed it
    left.write_bytes(b"RIFF half a file")
    argv = [inputs["mix"], "--model", models["good"], "--out", out]
    assert separate_main([str(a) for a in argv + ["--no-progress"]]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["mix_s1.wav", "mix_s2.wav"]


def test_a_folder_at_an_output_name_is_refused(models, inputs, tmp_path):
    out = tmp_path / "out"
    (out / "mix_s2.wav").mkdir(parents=True)
    sf.write(out / "mix_s1.wav", np.zeros(10), RATE)
    before = digest(out)
    argv = [inputs["mix"], "--model", models["good"], "--out", out]
    with pytest.raises(CommandError, match="mix_s2.wav is a folder, where"):
        separate_main([str(a) for a in argv + ["--overwrite", "--debug"]])
    assert digest(out) == before


def test_long_names_get_short_temporary_names(tmp_path):
    target = tmp_path / ("é" * 120 + "_s1.wav")  # 247 bytes: a valid name
    with files.replacing(target) as temp:
        assert len(temp.name.encode()) <= 255
        sf.write(temp, np.zeros(10), RATE)
    assert target.is_file() and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["offline", "stream"])
def test_a_full_disk_leaves_no_partial_file(
    stream, models, inputs, tmp_path, capsys, monkeypatch
):
    """The disk fills while the first output is written: that file is
    reported, the outputs that were there are untouched, no partial or
    temporary file is left, and the summary is printed."""
    out = tmp_path / "out"
    out.mkdir()
    sf.write(out / "mix_s1.wav", np.zeros(10), RATE)
    before = digest(out)
    real_write = sf.SoundFile.write

    def full_disk(self, data):  # half written, then the disk is full
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    model = models["causal" if stream else "good"]
    argv = [inputs["mix"], "--model", model, "--out", out, "--overwrite"]
    status, text = call(
        separate_main, argv + ["--stream"] * stream + ["--no-progress"], capsys
    )
    assert status == 1
    assert (
        f"{inputs['mix']}: its outputs cannot be written in {out} (OSError: "
        "[Errno 28] No space left on device); nothing was written for it"
    ) in text
    assert f"Separated 0 of 1 file(s) into {out}; 1 failed" in text
    assert digest(out) == before


def test_no_empty_output_folder_when_every_input_fails(
    models, inputs, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    argv = [inputs["empty"], inputs["notes"], "--model", models["good"]]
    status, text = call(separate_main, argv + ["--out", out], capsys)
    assert status == 1 and "Separated 0 of 2 file(s)" in text
    assert not (tmp_path / "new").exists()
    # a missing --out is created with the first output
    argv = [inputs["mix"], "--model", models["good"], "--out", out]
    assert call(separate_main, argv, capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["mix_s1.wav", "mix_s2.wav"]


def test_unwritable_out(models, inputs, tmp_path, capsys, monkeypatch):
    """A folder the user cannot write in (here: os.access says so, as it
    does for a read-only mount or for a non-root user's 0555 folder)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = files.os.access

    def access(path, mode, **kwargs):
        if Path(path) == locked and mode & files.os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(files.os, "access", access)
    argv = [inputs["mix"], "--model", models["good"]]
    status, text = call(separate_main, argv + ["--out", locked / "out"], capsys)
    assert status == 2
    assert (
        f"--out {locked / 'out'}: cannot write in {locked} (permission "
        "denied or a read-only file system). Choose another folder."
    ) in text


def test_a_failing_file_is_named_and_the_summary_printed(
    models, inputs, tmp_path, capsys, monkeypatch
):
    def fails(self, path, *args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Separator, "separate_file", fails)
    argv = [inputs["mix"], "--model", models["good"], "--out", tmp_path / "o"]
    status, text = call(separate_main, argv, capsys)
    assert status == 1 and "Traceback" not in text
    assert (
        f"Separated 0 of 1 file(s) into {tmp_path / 'o'}; 1 failed:\n"
        f"  {inputs['mix']}: separation failed (RuntimeError: boom); rerun "
        "with --debug for the traceback."
    ) in text


def test_the_log_names_the_mode_used(models, inputs, tmp_path, caplog):
    """A linear-time model takes a file in one pass, unless it is longer
    than --max-pass: then in windows, and the log says so."""
    caplog.set_level(logging.INFO, logger="lobes")
    argv = [str(inputs["mix"]), "--model", str(models["good"])]
    argv += ["--no-progress", "--overlap", "0.1"]
    assert separate_main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert f"Separating {inputs['mix']} (1.0 s at 8000 Hz, whole)" in (
        caplog.text
    )
    caplog.clear()
    argv += ["--max-pass", "0.4", "--out", str(tmp_path / "b")]
    assert separate_main(argv) == 0
    assert "(1.0 s at 8000 Hz, windowed, 0.4 s windows)" in caplog.text


def test_normalize_peaks_each_output_at_one(models, inputs, tmp_path):
    """--normalize divides each estimate by its peak, as SpeechBrain's
    separate_file; by default the model's own scale is kept."""
    argv = [str(inputs["mix"]), "--model", str(models["good"])]
    assert separate_main(argv + ["--out", str(tmp_path / "raw")]) == 0
    assert (
        separate_main(argv + ["--out", str(tmp_path / "n"), "--normalize"]) == 0
    )
    for k in (1, 2):
        raw, _ = sf.read(tmp_path / "raw" / f"mix_s{k}.wav")
        peaked, _ = sf.read(tmp_path / "n" / f"mix_s{k}.wav")
        assert abs(np.abs(raw).max() - 1) > 1e-3  # not already at one
        np.testing.assert_allclose(peaked, raw / np.abs(raw).max(), atol=1e-6)
        assert np.abs(peaked).max() == pytest.approx(1, abs=1e-6)


# --------------------------------------------------------------------------
# Exports: complete, or not at all
# --------------------------------------------------------------------------


def truncate(path: Path) -> None:
    """Cuts a file to a third, as a kill or a full disk does."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A recipe run (one checkpoint of a tiny RE-SepFormer); a copy whose
    masknet.ckpt is truncated; a run with two checkpoints, the better
    (the one the recipe evaluates) truncated."""
    root = tmp_path_factory.mktemp("runs")
    fake_run(root / "run", "resepformer", MODELS["resepformer"].tiny)
    shutil.copytree(root / "run", root / "broken")
    (checkpoint,) = (root / "broken" / "save").glob("CKPT+*")
    truncate(checkpoint / "masknet.ckpt")
    two = fake_run(root / "two", "resepformer", MODELS["resepformer"].tiny)
    better = two["checkpointer"].save_checkpoint(
        meta={"si-snr": 0.5, "end-of-epoch": True}
    )
    truncate(better.path / "masknet.ckpt")
    return {
        "run": root / "run",
        "broken": root / "broken",
        "broken_ckpt": checkpoint / "masknet.ckpt",
        "two": root / "two",
        "two_damaged": better.path,
    }


def test_a_failed_export_leaves_the_folder_as_it_was(runs, tmp_path, capsys):
    out = tmp_path / "pretrained" / "good"
    assert call(export_main, [runs["run"], out], capsys)[0] == 0
    before = digest(out.parent)
    broken = runs["broken_ckpt"].parent  # given: exported as it is
    status, text = call(export_main, [broken, out], capsys)
    assert status == 1 and "Traceback" not in text
    assert f"{runs['broken_ckpt']} cannot be read: truncated or corrupt" in text
    assert f"Nothing was written to {out}" in text
    assert digest(out.parent) == before  # no temporary folder left either
    # a new OUT_DIR is not even created
    status, _ = call(export_main, [broken, tmp_path / "x" / "y"], capsys)
    assert status == 1 and not (tmp_path / "x").exists()


def test_export_skips_a_damaged_checkpoint(runs, tmp_path, capsys, caplog):
    """From a run folder, a damaged checkpoint is skipped as training's
    recovery skips it (one log line naming it), and the best complete one
    is exported; a run with none left is refused in one line."""
    damaged = runs["two_damaged"]
    (good,) = [p for p in (runs["two"] / "save").glob("CKPT+*") if p != damaged]
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="lobes"):
        status, text = call(export_main, [runs["two"], out], capsys)
    assert status == 0, text
    assert (out / "masknet.ckpt").read_bytes() == (
        good / "masknet.ckpt"
    ).read_bytes()
    assert f"(checkpoint {good.name})" in (out / "hyperparams.yaml").read_text()
    (warning,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "lobes.training.checkpoints"
    ]
    assert warning.startswith(
        f"Skipping checkpoint {damaged}: masknet.ckpt is truncated"
    )
    assert "\n" not in warning and "previous complete checkpoint" in warning
    # no complete checkpoint left: refused, nothing written
    status, text = call(export_main, [runs["broken"], tmp_path / "x"], capsys)
    assert status == 1 and "Traceback" not in text
    (line,) = text.strip().splitlines()
    assert line.startswith(
        f"python -m lobes.export: error: {runs['broken_ckpt'].parent} cannot "
        "be exported: masknet.ckpt is truncated or unreadable"
    )
    assert "the run has no complete checkpoint" in line
    assert not (tmp_path / "x").exists()


def test_a_full_disk_during_export_leaves_the_folder_as_it_was(
    runs, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "good"
    assert call(export_main, [runs["run"], out], capsys)[0] == 0
    before = digest(tmp_path)
    real_copy = shutil.copyfile

    def full_disk(source, target):
        if Path(source).name == "masknet.ckpt":
            Path(target).write_bytes(Path(source).read_bytes()[:100])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    status, text = call(export_main, [runs["run"], out], capsys)
    assert status == 1
    assert (
        f"[Errno 28] No space left on device. Nothing was written; {out} is "
        "as it was."
    ) in text
    assert digest(tmp_path) == before


def test_export_out_dir_with_other_files(runs, tmp_path, capsys):
    out = tmp_path / "models"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "README.md").write_text("my readme")
    status, text = call(export_main, [runs["run"], out], capsys)
    assert status == 2
    assert (
        f"{out} holds other files (README.md, notes.txt), not a pretrained "
        "folder that lobes.export wrote: pass --overwrite"
    ) in text
    assert (out / "README.md").read_text() == "my readme"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "notes.txt"]
    # --overwrite: the model's files go in, the others stay
    assert call(export_main, [runs["run"], out, "--overwrite"], capsys)[0] == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "masknet.ckpt").is_file()
    assert (out / "README.md").read_text() != "my readme"
    # a folder lobes.export wrote is replaced without asking
    mine = tmp_path / "mine"
    assert call(export_main, [runs["run"], mine], capsys)[0] == 0
    assert call(export_main, [runs["run"], mine], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "models"]
    # OUT_DIR that is a file
    (tmp_path / "file").write_text("x")
    status, text = call(export_main, [runs["run"], tmp_path / "file"], capsys)
    assert status == 2
    assert f"{tmp_path / 'file'} is a file, not a folder" in text
