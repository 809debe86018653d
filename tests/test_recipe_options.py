"""What a recipe run leaves and says when it cannot go on: a rerun whose
checkpoint does not fit the model leaves the run's files as they were,
Ctrl-C names the checkpoint that the same command resumes from, an export
never writes where it reads, and every option of every recipe and model
has its values checked (the bad values themselves: OPTION_CASES of
tests/test_training_faults.py).
"""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faultrun import RECIPE, run_args
from ruamel.yaml import YAML
from sepdata import write_corpus
from speechbrain.utils.run_opts import RunOptions
from test_training_faults import tiny_model, with_options

from lobes.inference.cli import export_main
from lobes.training.options import OPTIONS
from lobes.training.overrides import check_overrides

ROOT = Path(__file__).resolve().parents[1]
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ERROR = "train.py: error: "


def start(argv: list[str]) -> subprocess.Popen:
    """``python train.py <argv>`` of the WSJ0Mix recipe, started."""
    return subprocess.Popen(
        [sys.executable, "train.py", *argv],
        cwd=RECIPE,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def train(argv: list[str]) -> tuple[int, str, str]:
    """Runs ``python train.py <argv>``: exit status, stdout, stderr."""
    process = start(argv)
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, lines
    assert lines[0].startswith(ERROR), lines
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A finished tiny run: its corpus and its output folder."""
    root = tmp_path_factory.mktemp("trained")
    data = write_corpus(root / "data", "wsj0-2mix")
    code, out, err = train(run_args(data, root / "run"))
    assert code == 0, out[-3000:] + err[-3000:]
    return data, root / "run"


def snapshot(run: Path) -> dict[str, bytes]:
    """The run's files (the log aside, which a rerun appends to) and the
    names of its checkpoints."""
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    del files["log.txt"]
    files["save"] = " ".join(sorted(p.name for p in run.glob("save/*")))
    return files


def test_rerun_whose_checkpoint_does_not_fit_leaves_the_run(trained, tmp_path):
    """Rerunning a run's folder with another model size fails in one line
    (the checkpoint cannot be loaded) before any file of the run changes:
    hyperparams.yaml still describes the checkpoints, and exports."""
    data, run = trained
    before = snapshot(run)
    argv = with_options(run_args(data, run), [tiny_model(N_encoder_out=32)])
    code, _, err = train(argv)
    line = one_line(err)
    assert code == 1, line
    assert line.startswith(f"{ERROR}Cannot load checkpoint {run}/save/CKPT+")
    assert "size mismatch" in line and "--output_folder" in line
    assert snapshot(run) == before
    assert export_main([str(run), str(tmp_path / "pretrained")]) == 0


def test_export_never_writes_where_it_reads(trained, tmp_path, capsys):
    """OUT_DIR the checkpoint exported, a folder inside it, or one holding
    it (its save folder, the run folder whose hyperparams.yaml is the
    export's input), even with --overwrite; OUT_DIR inside a run folder
    exported: one line, exit status 2, nothing changed."""
    _, run = trained
    (checkpoint,) = run.glob("save/CKPT+*")
    before = snapshot(run)
    cases = [
        (checkpoint, run),
        (checkpoint, run / "save"),
        (checkpoint, checkpoint),
        (checkpoint, checkpoint / "pretrained"),
        (run, run / "pretrained"),
    ]
    for source, out in cases:
        assert export_main([str(source), str(out), "--overwrite"]) == 2
        line = capsys.readouterr().err.strip()
        assert line.startswith(f"python -m lobes.export: error: OUT_DIR {out}")
        assert f"the source folder {source}, which the export reads" in line
        assert "\n" not in line
    assert snapshot(run) == before
    assert not (run / "pretrained").exists()
    assert not (checkpoint / "pretrained").exists()


def read_until(process: subprocess.Popen, *texts: str) -> str:
    """Reads ``process``'s stdout until a line holds each of ``texts``,
    one after the other; what it read."""
    out = ""
    for text in texts:
        line = ""
        while text not in line:
            line = process.stdout.readline()
            assert line, out + process.stderr.read()  # it ended first
            out += line
    return out


def interrupted(process: subprocess.Popen) -> str:
    """Sends Ctrl-C (SIGINT) to ``process``; the line it ended with."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, out[-3000:] + err
    line = one_line(err)
    prefix = "interrupted; rerun the same command to resume from the last "
    assert line.startswith(f"{ERROR}{prefix}checkpoint, "), line
    return line


def test_ctrl_c_names_the_checkpoint_a_rerun_resumes_from(tmp_path):
    """Ctrl-C while training: one line naming the last checkpoint, exit
    status 130; the same command run again resumes from it (and is
    stopped the same way once it has saved a checkpoint of its own)."""
    data = write_corpus(tmp_path / "data", "wsj0-2mix")
    run = tmp_path / "run"
    argv = with_options(run_args(data, run), ["--N_epochs=1000"])
    first = start(argv)
    read_until(first, "Saved an ")
    line = interrupted(first)
    named = Path(line.removesuffix(".").split("checkpoint, ")[1])
    assert named.parent == run / "save" and named.is_dir()
    rerun = start(argv)
    read_until(rerun, f"Loading a checkpoint from {named}\n", "Saved an ")
    interrupted(rerun)


def test_every_default_of_every_recipe_is_a_value_its_option_takes():
    """Every plain option of the recipes and the models (SpeechBrain's run
    options aside: its parser checks them) has its values checked
    (`OPTIONS`), and its default passes; given back as overrides, the
    defaults are accepted."""
    run_options = set(RunOptions().as_dict())
    yaml = YAML()
    for recipe in sorted(ROOT.glob("recipes/*/hparams/*.yaml")):
        model = ROOT / "hparams" / recipe.name
        for tree, within in ((recipe, None), (model, "model")):
            plain = {
                key: value
                for key, value in yaml.load(tree).items()
                if key not in run_options
                and isinstance(value, bool | int | float | str | list)
                and not getattr(getattr(value, "tag", None), "value", None)
            }  # not mappings, nor !ref, !new:..., !apply:...
            for key, value in plain.items():
                assert key in OPTIONS, (tree, key)
                assert OPTIONS[key].accepts(value), (tree, key, value)
            overrides = io.StringIO()
            given = {within: plain} if within else plain
            yaml.dump(given | {"data_folder": "/data"}, overrides)
            check_overrides(recipe, overrides.getvalue())
