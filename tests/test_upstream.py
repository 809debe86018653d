"""Tests of ``python -m upstream``: the folder it writes is what SpeechBrain
would take. SpeechBrain's ruff 0.12.4 with SpeechBrain's settings passes
on it; in processes where the ``lobes`` package (and this project's other
packages) cannot be imported and the written modules are part of
``speechbrain.lobes.models``, their doctests and the written unit tests
pass and the recipe files build their masknets; no reference to this
project is left; the pull-request text carries the measured numbers and
the size of the diff; the writing is atomic. Also: the lobe test files
import only what SpeechBrain's tests may."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.spread import summarize
from bench.tables import format_value
from upstream.pull_request import (
    QUALITY,
    QUALITY_SCORES,
    SUITE,
    cost_rows,
    read_rows,
)
from upstream.recipes import RECIPE
from upstream.rename import (
    MODULES,
    PACKAGE,
    TESTED,
    module_file,
    project_references,
    unit_test_file,
)
from upstream.writer import (
    PULL_REQUEST,
    RUFF_CONFIG,
    line_count,
    read_files,
    write,
)

ROOT = Path(__file__).resolve().parents[1]
SB_RUFF = Path(sys.prefix) / "sb-ruff" / "bin" / "ruff"  # see the Makefile
# what SpeechBrain's unit tests may import (and the lobes themselves)
ALLOWED = {"pytest", "torch", "speechbrain", *sys.stdlib_module_names}
# this project's top-level packages: none may be imported in isolation
PROJECT = sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))

# conftest.py of the isolated folder, and sitecustomize.py for the
# processes its tests start (found through PYTHONPATH)
SETUP = '''"""The written files as part of SpeechBrain, alone."""

import importlib.abc
import sys

import speechbrain.lobes.models


class BlockProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {project!r}:
            raise ModuleNotFoundError(f"{{name}} is blocked", name=name)


if not any(type(f).__name__ == "BlockProject" for f in sys.meta_path):
    sys.meta_path.insert(0, BlockProject())
if {models!r} not in speechbrain.lobes.models.__path__:
    speechbrain.lobes.models.__path__.append({models!r})
'''
# doctests of the written modules and the recipe files, reported as JSON
CHECK = """
import doctest, importlib, json, sys
from hyperpyyaml import load_hyperpyyaml

names, recipes = json.loads(sys.argv[1])
report = {"doctests": {}, "files": {}, "recipes": {}}
for name in names:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    report["doctests"][name] = [result.failed, result.attempted]
    report["files"][name] = module.__file__
for path in recipes:
    with open(path) as f:
        hparams = load_hyperpyyaml(f, {"data_folder": "data"})
    masknet = type(hparams["modules"]["masknet"])
    report["recipes"][path] = f"{masknet.__module__}.{masknet.__name__}"
try:
    import lobes
except ImportError as error:
    report["lobes"] = repr(error)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """The folder, written once for this module's tests (read only)."""
    out = tmp_path_factory.mktemp("upstream") / "out"
    write(out)
    return out


@pytest.fixture(scope="module")
def isolated(written, tmp_path_factory) -> tuple[Path, dict]:
    """A copy of the folder with the isolation set up, and the environment
    its processes run in."""
    folder = tmp_path_factory.mktemp("isolated") / "speechbrain-checkout"
    shutil.copytree(written, folder)
    models = folder / PACKAGE.replace(".", "/")
    setup = SETUP.format(project=PROJECT, models=str(models))
    (folder / "conftest.py").write_text(setup)
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(setup)
    return folder, os.environ | {"PYTHONPATH": str(site)}


def pull_request_files(folder: Path) -> dict[str, str]:
    """The files of the pull request (path -> text), its text aside."""
    files = read_files(folder)
    del files[PULL_REQUEST]
    return files


def imported_modules(source: str) -> set[str]:
    """Modules a Python text imports, also in the scripts it holds as
    strings (run in subprocesses)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names |= imported_modules(node.value)
    return names


@pytest.mark.parametrize("module", TESTED)
def test_lobe_tests_import_only_what_speechbrain_tests_may(module):
    """pytest, torch, SpeechBrain, the standard library and the lobes."""
    source = (ROOT / "tests" / f"test_{module}.py").read_text()
    lobes = {f"lobes.{m}" for m in MODULES}
    names = imported_modules(source)
    assert {n for n in names if n.startswith("lobes")} <= lobes
    assert {n.split(".")[0] for n in names - lobes} <= ALLOWED


def test_layout(written):
    files = set(pull_request_files(written))
    recipes = {f for f in files if f.startswith(f"{RECIPE}/hparams/")}
    assert len(recipes) == 3 and (written / PULL_REQUEST).is_file()
    assert files - recipes == (
        {module_file(m) for m in MODULES} | {unit_test_file(m) for m in TESTED}
    )


def test_no_reference_to_this_project_left_but_authors(written):
    files = pull_request_files(written)
    left = {p: project_references(t) for p, t in files.items()}
    assert left == dict.fromkeys(files, [])
    for module in MODULES:
        text = files[module_file(module)]
        assert text.count("\n * sepformer-lobes contributors 20") == 1


@pytest.mark.parametrize("command", ["check", "format --check"])
def test_speechbrain_ruff_passes(written, command):
    """SpeechBrain's pinned ruff with its settings, as its pre-commit runs
    them (speechbrain first-party, py38, docstring code formatted)."""
    if not SB_RUFF.is_file():
        pytest.fail(f"{SB_RUFF} (ruff 0.12.4) is missing: run `make install`")

    def ruff(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SB_RUFF), *args], cwd=written, capture_output=True, text=True
        )

    assert ruff("--version").stdout.split() == ["ruff", "0.12.4"]
    config = ["--no-cache", "--config", str(RUFF_CONFIG)]
    result = ruff(*command.split(), *config, "speechbrain", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def checked(isolated) -> dict:
    """Doctests and recipe files, run in isolation (`CHECK`)."""
    folder, env = isolated
    names = [f"{PACKAGE}.{name}" for name in MODULES.values()]
    recipes = sorted(str(p) for p in folder.glob(f"{RECIPE}/hparams/*.yaml"))
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps([names, recipes])],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]) | {
        "folder": folder
    }


def test_isolated_doctests_pass(checked):
    """Every written module has doctests, and they pass; the modules are
    the written files, and ``lobes`` does not import."""
    folder = checked["folder"]
    assert "ModuleNotFoundError" in checked["lobes"]
    for name, (failed, attempted) in checked["doctests"].items():
        assert (failed, attempted > 0) == (0, True), name
        assert Path(checked["files"][name]).is_relative_to(folder)


def test_isolated_recipes_build_the_masknets(checked):
    built = {Path(p).name: cls for p, cls in checked["recipes"].items()}
    assert built == {
        "resepformer-fused.yaml": f"{PACKAGE}.resepformer_fused.RESepFormer",
        "latent-sepformer.yaml": f"{PACKAGE}.latent_sepformer.LatentSepFormer",
        "flashformer.yaml": f"{PACKAGE}.flashformer.FlashFormer",
    }


def test_isolated_unit_tests_pass(isolated):
    folder, env = isolated
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["--rootdir", str(folder), "tests/unittests"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary


def test_pull_request_has_the_measured_numbers(written):
    text = (written / PULL_REQUEST).read_text()
    suite = read_rows(SUITE)
    assert suite[0]["machine"].split(";")[0] in text  # the CPU
    for row in cost_rows(suite):
        for value in row.values():
            if isinstance(value, float):
                assert f" {format_value(value)} |" in text, (row, value)
    for run in summarize(read_rows(QUALITY), QUALITY_SCORES):  # seed mean
        assert f" {format_value(run['SI-SNRi'])} |" in text, run["model"]
        assert f"| {run['seeds']} |" in text, run["model"]  # as in the CSV
    assert "$" not in text


def test_pull_request_has_the_size_of_the_diff(written):
    files = pull_request_files(written)
    text = (written / PULL_REQUEST).read_text()
    assert f"{len(files)} new files, {line_count(files)} lines" in text
    for name in MODULES.values():
        assert f"{PACKAGE}.{name}`" in text


def test_writing_replaces_the_folder_atomically(tmp_path, monkeypatch):
    """A second write replaces the whole folder; a failed one leaves the
    previous folder as it was; no temporary folder is left behind."""
    out = tmp_path / "out"
    write(out)
    (out / "stale.txt").write_text("from an older version")
    write(out)
    assert not (out / "stale.txt").exists()
    before = (out / PULL_REQUEST).read_text()

    def fail(files):
        raise RuntimeError("interrupted")

    monkeypatch.setattr("upstream.writer.pull_request_text", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        write(out)
    assert (out / PULL_REQUEST).read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
