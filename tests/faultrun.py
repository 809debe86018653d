"""Recipe runs with faults injected, for tests/test_training_faults.py:
one driver process imports torch, SpeechBrain and the WSJ0Mix recipe once,
then forks every run (a fresh process each, started in a fraction of the
time). A fault is injected at an "event" of a run: a ``torch.save`` (the
file half written), a rename, an unlink, a file opened for writing in a
checkpoint folder, or the end of a training step; it is SIGKILL or, at a
``torch.save``, a full disk (``OSError(ENOSPC)``).

    python tests/faultrun.py kill DIR --kill-points 20 [--seed 15]

runs the kill-anywhere check on its own and prints one JSON record per
kill point (the events killed at, and whether the final rerun wrote the
``test_results.csv`` of the run never interrupted).
"""

import argparse
import builtins
import errno
import io
import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # also when run as a script

from sepdata import write_corpus  # noqa: E402

from hparams import MODELS, model_option  # noqa: E402

RECIPE = ROOT / "recipes" / "WSJ0Mix"


def run_args(data: Path, out: Path, *extra: str) -> list[str]:
    """A tiny RE-SepFormer run: 2 epochs of 2 steps, a checkpoint a step."""
    return [
        "hparams/resepformer.yaml",
        f"--model={model_option(MODELS['resepformer'].tiny)}",
        "--dataloader_opts={batch_size: 2, num_workers: 0}",
        "--eval_dataloader_opts={batch_size: 1, num_workers: 0}",
        "--noprogressbar",
        f"--data_folder={data}",
        f"--output_folder={out}",
        "--N_epochs=2",
        "--ckpt_interval_minutes=0",
        "--ckpt_interval_steps=1",
        *extra,
    ]


class Faults:
    """Counts the events of a run and injects a fault at one of them:
    SIGKILL (``kill_at``) or, at a ``torch.save``, a full disk
    (``enospc_at``: half the file written, then ``OSError(ENOSPC)``)."""

    def __init__(
        self, kill_at: int = 0, enospc_at: int = 0, nan_ids: list | None = None
    ):
        self.kill_at, self.enospc_at = kill_at, enospc_at
        self.nan_ids = set(nan_ids or [])  # their evaluation estimates: NaN
        self.events: list[str] = []
        self.log: Path | None = None  # where the events go

    def save(self) -> None:
        """Writes the events so far to `log`."""
        if self.log is not None:
            self.log.write_text("\n".join(self.events))

    def event(self, name: str) -> str | None:
        """Records an event; the fault to inject now, if any."""
        self.events.append(name)
        if len(self.events) == self.kill_at:
            self.save()  # the last words
            return "kill"
        if len(self.events) == self.enospc_at:
            return "enospc"
        return None

    def install(self) -> None:
        """Wraps the functions whose calls are events (in this process)."""
        import speechbrain as sb

        from lobes.training.brain import Separation

        save, rename, replace = torch.save, os.rename, os.replace
        unlink, fit_batch, open_ = os.unlink, Separation.fit_batch, open
        forward = Separation.compute_forward

        def faulty_save(obj, f, *args, **kwargs):
            if isinstance(f, (str, os.PathLike)):
                fault = self.event(f"torch.save {Path(f).name}")
                if fault is not None:
                    buffer = io.BytesIO()
                    save(obj, buffer, *args, **kwargs)
                    with open_(f, "wb") as out:
                        out.write(buffer.getvalue()[: buffer.tell() // 2])
                    if fault == "kill":
                        os.kill(os.getpid(), signal.SIGKILL)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return save(obj, f, *args, **kwargs)

        def before(function, kind):
            def wrapped(src, *args, **kwargs):
                if self.event(f"{kind} {Path(src).name}") == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                return function(src, *args, **kwargs)

            return wrapped

        def faulty_open(file, mode="r", *args, **kwargs):
            handle = open_(file, mode, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and "w" in mode:
                if "CKPT" in str(file):  # a checkpoint's file, still empty
                    if self.event(f"open {Path(file).name}") == "kill":
                        os.kill(os.getpid(), signal.SIGKILL)
            return handle

        def fit_batch_then(brain, batch):
            loss = fit_batch(brain, batch)
            if self.event("step") == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return loss

        def nan_forward(brain, batch, stage):
            est, targets = forward(brain, batch, stage)
            if stage != sb.Stage.TRAIN:
                for b, uid in enumerate(batch.id):
                    if uid in self.nan_ids:
                        est[b] = float("nan")
            return est, targets

        Separation.compute_forward = nan_forward
        torch.save = faulty_save
        os.rename, os.replace = (
            before(rename, "rename"),
            before(replace, "rename"),
        )
        os.unlink = before(unlink, "unlink")
        builtins.open = faulty_open
        Separation.fit_batch = fit_batch_then


def run_forked(argv: list[str], log: Path, faults: Faults) -> int:
    """Runs the recipe (through ``run_recipe``) in a forked child with
    ``faults``; stdout and stderr go to ``log``.out and ``log``.err, the
    events to ``log``.events. Returns the exit status (-9: killed)."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            for fd, suffix in ((1, ".out"), (2, ".err")):
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                os.dup2(os.open(f"{log}{suffix}", flags), fd)
            from train import main

            from lobes.training.recipe import run_recipe

            faults.log = Path(f"{log}.events")
            faults.install()
            sys.argv = ["train.py", *argv]
            try:
                run_recipe(main)
                code = 0
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            faults.save()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def kill_anywhere(folder: Path, kill_points: int, seed: int) -> list[dict]:
    """An uninterrupted run, then for each kill point a run killed at a
    random event (a random kind, then a random one of that kind; every
    other point: its rerun killed too, early) and the rerun
    that finishes it. Returns one dict per kill point: the events killed
    at and whether the final ``test_results.csv`` equals the reference."""
    data = write_corpus(folder / "data", "wsj0-2mix")
    reference = folder / "reference"
    code = run_forked(run_args(data, reference), folder / "ref", Faults())
    assert code == 0, Path(f"{folder}/ref.err").read_text()[-3000:]
    expected = (reference / "test_results.csv").read_text()
    events = Path(f"{folder}/ref.events").read_text().splitlines()
    rng = random.Random(seed)
    kinds: dict[str, list[int]] = {}  # event kind: its event numbers
    for number, event in enumerate(events, 1):
        kinds.setdefault(event.split()[0], []).append(number)
    points = []
    for point in range(kill_points):
        out = folder / f"run{point}"
        kills = [rng.choice(kinds[rng.choice(sorted(kinds))])]
        if point % 2:  # kill the rerun as well, early in it
            kills.append(rng.randrange(1, len(events) // 2 + 1))
        record = {"point": point, "killed at": [], "codes": []}
        for run, kill_at in enumerate([*kills, 0]):
            log = folder / f"run{point}-{run}"
            code = run_forked(run_args(data, out), log, Faults(kill_at))
            record["codes"].append(code)
            if kill_at and code == -signal.SIGKILL:
                done = Path(f"{log}.events").read_text().splitlines()
                record["killed at"].append(f"{kill_at}: {done[-1]}")
        results = out / "test_results.csv"
        record["same"] = code == 0 and results.read_text() == expected
        if not record["same"]:
            record["stderr"] = Path(f"{log}.err").read_text()[-2000:]
        points.append(record)
    return points


def full_disk(folder: Path) -> dict:
    """A full disk at the end-of-epoch checkpoint of epoch 1, then a
    rerun: the exit status, stderr and checkpoints after the failure, and
    whether the rerun resumed from the kept checkpoint and ended as the
    reference did."""
    data = write_corpus(folder / "data", "wsj0-2mix")
    reference = folder / "reference"
    code = run_forked(run_args(data, reference), folder / "ref", Faults())
    assert code == 0, Path(f"{folder}/ref.err").read_text()[-3000:]
    events = Path(f"{folder}/ref.events").read_text().splitlines()
    masknet = [
        i for i, e in enumerate(events) if e == "torch.save masknet.ckpt"
    ]
    enospc_at = masknet[2] + 1  # the third checkpoint (end of epoch 1)
    out = folder / "out"
    log = folder / "disk"
    code = run_forked(run_args(data, out), log, Faults(enospc_at=enospc_at))
    save = out / "save"
    result = {
        "save": str(save),
        "code": code,
        "stderr": Path(f"{log}.err").read_text(),
        "left": sorted(p.name for p in save.iterdir() if "CKPT" in p.name),
    }
    rerun = folder / "rerun"
    result["rerun code"] = run_forked(run_args(data, out), rerun, Faults())
    result["rerun log"] = Path(f"{rerun}.out").read_text()
    results = out / "test_results.csv"
    expected = (reference / "test_results.csv").read_text()
    result["same"] = results.is_file() and results.read_text() == expected
    return result


def run_cases(folder: Path, cases: dict) -> dict:
    """Runs each case (``argv``, and ``nan_ids``: utterances whose
    validation and test estimates become NaN); for each, the exit status,
    stdout, stderr, the checkpoints and test_results.csv left."""
    results = {}
    for name, case in cases.items():
        log = folder / f"case-{name}"
        code = run_forked(
            case["argv"], log, Faults(nan_ids=case.get("nan_ids"))
        )
        out = Path(case["out"])
        results[name] = {
            "code": code,
            "stdout": Path(f"{log}.out").read_text(),
            "stderr": Path(f"{log}.err").read_text(),
            "checkpoints": sorted(p.name for p in out.glob("save/CKPT*")),
            "results": (out / "test_results.csv").read_text()
            if (out / "test_results.csv").is_file()
            else None,
            "train_log": (out / "train_log.txt").read_text()
            if (out / "train_log.txt").is_file()
            else None,
        }
    return results


def drive(scenario: str, folder: Path, options: argparse.Namespace) -> None:
    """The driver process: imports once, forks every run, prints JSON."""
    os.chdir(RECIPE)
    sys.path.insert(0, str(RECIPE))
    torch.set_num_threads(1)
    import speechbrain.utils.logger as sb_logger
    import train  # noqa: F401  (imported once, before the forks)

    torch.optim.Adam(torch.nn.Linear(1, 1).parameters())  # imports dynamo
    environment = sb_logger.get_environment_description()  # pip freeze
    sb_logger.get_environment_description = lambda: environment
    if scenario == "kill":
        result = kill_anywhere(folder, options.kill_points, options.seed)
    else:
        cases = json.loads(options.cases.read_text())
        result = {
            "disk": full_disk(folder / "disk"),
            **run_cases(folder, cases),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["kill", "checks"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kill-points", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--cases", type=Path, help="JSON, for checks")
    args = parser.parse_args()
    drive(args.scenario, args.folder, args)
