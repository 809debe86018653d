"""What a recipe's command line is checked for before anything runs or
is written in the run's folder (`lobes.training.recipe.load_recipe`): the
hparams file, the device, the output and save folders, and the checkpoint
to resume from (one that does not fit the model, or ``--test_only``
without one). Each problem is one `UsageError` (or SpeechBrain's
checkpoint error) naming the option.

Authors
 * sepformer-lobes contributors 2026
"""

import os
from pathlib import Path

import torch

from lobes.errors import brief
from lobes.files import folder_problem
from lobes.training.checkpoints import Checkpointer
from lobes.training.errors import UsageError


def check_hparams_file(path: str) -> None:
    """Raises `UsageError` unless ``path`` is a file, naming the YAML files
    of its folder.

    Arguments
    ---------
    path : str
        The hparams file given.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "resepformer.yaml").write_text("seed: 1\\n")
    >>> try:
    ...     check_hparams_file(str(folder / "nope.yaml"))
    ... except UsageError as error:
    ...     print(str(error).replace(str(folder), "HERE"))
    HERE/nope.yaml: no such hparams file; pass one of HERE/resepformer.yaml.
    """
    if os.path.isfile(path):
        return
    folder = Path(path).parent
    found = sorted(map(str, folder.glob("*.yaml"))) if folder.is_dir() else []
    hint = f"one of {', '.join(found)}" if found else "a recipe's hparams file"
    raise UsageError(f"{path}: no such hparams file; pass {hint}.")


def check_device(device: str | None) -> None:
    """Raises `UsageError` unless ``device`` (``--device``) is a device of
    this machine (None: SpeechBrain picks one).

    Arguments
    ---------
    device : str, optional
        e.g. ``cpu``, ``cuda``, ``cuda:1``.

    Example
    -------
    >>> check_device("cpu")
    >>> check_device("gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.UsageError: --device=gpu: not a device ...
    """
    if device is None:
        return
    try:
        kind = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise UsageError(
            f"--device={device}: not a device ({brief(error)}); pass cpu, "
            "cuda or cuda:N."
        ) from error
    count = torch.cuda.device_count() if kind.type == "cuda" else 1
    if (kind.index or 0) >= count:
        seen = f"only {count} CUDA GPUs are" if count else "no CUDA GPU is"
        raise UsageError(
            f"--device={device}: {seen} visible here; pass --device=cpu, or "
            "leave --device out to use a GPU when there is one."
        )


def check_folder(option: str, folder: object) -> None:
    """Raises `UsageError` unless ``folder`` (``--output_folder`` or
    ``--save_folder``) is a folder that exists or can be made, and can be
    written in.

    Arguments
    ---------
    option : str
        The option, e.g. ``output_folder``.
    folder : object
        The value given.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> check_folder("output_folder", str(folder / "run"))
    >>> (folder / "file").touch()
    >>> check_folder("save_folder", str(folder / "file"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.UsageError: --save_folder=.../file is a file, ...
    """
    if not isinstance(folder, str) or not folder.strip():
        raise UsageError(
            f"--{option}={folder if folder is not None else ''}: give the "
            "folder to write the run's files in."
        )
    problem = folder_problem(folder)
    if problem is not None:
        raise UsageError(
            f"--{option}={problem}: pass a folder you can write to."
        )


def check_resume(checkpointer: Checkpointer, test_only: bool) -> None:
    """Loads the checkpoint that training resumes from, so that one that
    does not fit the model (other options) fails now, with
    `CheckpointError`; refuses ``--test_only`` without a checkpoint
    (`UsageError`).

    Arguments
    ---------
    checkpointer : Checkpointer
        The recipe's.
    test_only : bool
        ``--test_only``.
    """
    latest = checkpointer.find_checkpoint()
    if latest is not None:
        checkpointer.load_checkpoint(latest)
    elif test_only:
        raise UsageError(
            f"--test_only: no checkpoint in {checkpointer.checkpoints_dir} "
            "to test: train first (leave out --test_only), or pass the "
            "--output_folder of a trained run."
        )


def check_checkpoint_interval(hparams: dict, run_opts: object) -> None:
    """Raises `UsageError` when checkpoints inside an epoch are timed both
    in minutes and in steps, which SpeechBrain refuses only after the data
    are prepared: the hparams files set ``ckpt_interval_minutes: 15``, so
    ``--ckpt_interval_steps`` alone is such a conflict.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    run_opts : RunOptions
        SpeechBrain's run options (``overridden_args``: those given on the
        command line, which win over the hparams file).

    Example
    -------
    >>> from speechbrain import parse_arguments
    >>> _, run_opts, _ = parse_arguments(["x.yaml", "--ckpt_interval_steps=5"])
    >>> check_checkpoint_interval({"ckpt_interval_minutes": 0}, run_opts)
    >>> check_checkpoint_interval({"ckpt_interval_minutes": 15}, run_opts)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.UsageError: --ckpt_interval_steps=5 with ...
    """
    given = getattr(run_opts, "overridden_args", set())

    def value(name: str) -> float:
        if name in given or name not in hparams:
            return run_opts[name] or 0
        return hparams[name] or 0

    steps = value("ckpt_interval_steps")
    minutes = value("ckpt_interval_minutes")
    if steps > 0 and minutes > 0:
        raise UsageError(
            f"--ckpt_interval_steps={steps} with ckpt_interval_minutes="
            f"{minutes}: checkpoints inside an epoch are timed in steps or "
            "in minutes; pass --ckpt_interval_minutes=0 with "
            "--ckpt_interval_steps."
        )
