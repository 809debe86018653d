"""Pretrained folders for ``speechbrain.inference`` from recipe runs and
from upstream SpeechBrain RE-SepFormer models.

``python -m lobes.export RUN_DIR OUT_DIR`` (`export`) turns a finished
recipe run (its output folder, or one ``save/CKPT+...`` folder in it) into a
self-contained pretrained folder (`export_run`; its format:
`lobes.inference.pretrained`):

- ``hyperparams.yaml``: ``sample_rate``, ``num_spks``, the run's
  ``Encoder``, ``MaskNet`` and ``Decoder`` with every value written out (no
  ``!include``, no reference to the recipe), ``modules`` and a
  ``pretrainer`` with the ``encoder``, ``masknet`` and ``decoder``
  loadables;
- ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt``: the checkpoint's
  weights (by default the checkpoint the recipe evaluates, the one with the
  best validation SI-SNR among the complete ones: an incomplete or damaged
  checkpoint is skipped, and named in the log, as training's recovery does,
  `lobes.training.checkpoints.Checkpointer`);
- ``README.md``: the model card (model, training data, test SI-SNRi and
  SDRi of the run, how to load it; `lobes.inference.model_card`).

Nothing is lost: the folder is written under a temporary name beside
``OUT_DIR``, loaded strictly, and only then put in place
(`lobes.inference.pretrained.write_pretrained`), so a failed export (a
truncated checkpoint, a full disk) leaves an existing ``OUT_DIR`` as it was,
and no output overwrites an input: an ``OUT_DIR`` that is the source
folder, is inside it or holds it (the run folder of a checkpoint) is
refused (`check_apart`).
An ``OUT_DIR`` that lobes.export wrote before is replaced as a whole; one
with other files in it is refused unless ``overwrite``, which writes the
model's files into it and keeps the others (`check_out_dir`).

It loads offline with::

    from speechbrain.inference.separation import SepformerSeparation
    model = SepformerSeparation.from_hparams(source=OUT_DIR, savedir=...)

and separates as the recipe's evaluation did. ``lobes`` must be importable
where it is loaded (``pip install sepformer-lobes``); SepFormer runs only
need SpeechBrain.

The same command converts a pretrained folder in upstream SpeechBrain's
RE-SepFormer format (``hyperparams.yaml`` with a
``speechbrain.lobes.models.resepformer.ResourceEfficientSeparator`` and its
``.ckpt`` files, e.g. a local copy of ``speechbrain/resepformer-wsj02mix``)
into ours (`lobes.inference.convert.import_upstream`).

Authors
 * sepformer-lobes contributors 2026
"""

import datetime
import shutil
from pathlib import Path

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from speechbrain.utils.logger import get_logger

from lobes.inference.convert import import_upstream
from lobes.inference.loading import (
    PretrainedError,
    load_pretrained_modules,
    yaml_problem,
)
from lobes.inference.model_card import model_card, run_provenance
from lobes.inference.pretrained import (
    EXPORT_MARK,
    LOADABLES,
    check_out_dir,
    hyperparams_text,
    round_trip_yaml,
    write_pretrained,
)
from lobes.training.brain import CKPT_KEY
from lobes.training.checkpoints import Checkpointer

logger = get_logger(__name__)


def find_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """The run folder and the checkpoint to export.

    Arguments
    ---------
    path : str or Path
        A recipe run's output folder (the complete checkpoint with the
        best validation SI-SNR is taken, as the recipe's evaluation does),
        or one ``save/CKPT+...`` folder in it (taken as it is).

    Returns
    -------
    run : Path
        The output folder (holding ``hyperparams.yaml``).
    checkpoint : Path
        The checkpoint folder.
    """
    path = Path(path).resolve()
    if (path / "CKPT.yaml").is_file():
        run, checkpoint = path.parent.parent, path
    else:
        run = path
        checkpoint = _best_checkpoint(run / "save")
    if not (run / "hyperparams.yaml").is_file():
        raise FileNotFoundError(
            f"{run} is not a recipe run folder (no hyperparams.yaml): pass "
            "the --output_folder of a train.py run, or a save/CKPT+... "
            "folder inside one."
        )
    missing = [n for n in LOADABLES if not (checkpoint / f"{n}.ckpt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{checkpoint} lacks {', '.join(f'{n}.ckpt' for n in missing)}: "
            "not a checkpoint of a separation recipe."
        )
    return run, checkpoint


def _best_checkpoint(save: Path) -> Path:
    """The checkpoint under ``save`` that the recipe evaluates, among the
    complete ones (the others are skipped, each named in one log line)."""
    if not save.is_dir():
        raise FileNotFoundError(
            f"{save} not found: the run has no checkpoints yet (train it "
            "first), or pass a checkpoint folder."
        )
    checkpointer = Checkpointer(save, required=LOADABLES)
    best = checkpointer.find_checkpoint(min_key=CKPT_KEY)
    if best is None:  # only intra-epoch checkpoints: the latest
        best = checkpointer.find_checkpoint()
    if best is not None:
        return Path(best.path)
    if checkpointer.skipped:
        folder, problem = max(checkpointer.skipped.items())  # the latest
        raise PretrainedError(
            folder,
            f"cannot be exported: {problem}, and the run has no complete "
            "checkpoint",
            "Train the run again, or pass a checkpoint folder from a "
            "backup of the run.",
        )
    raise FileNotFoundError(
        f"No checkpoint (CKPT+...) in {save}: train the run first."
    )


def export_run(
    run_or_checkpoint: str | Path,
    out_dir: str | Path,
    overwrite: bool = False,
    onnx: bool = False,
) -> Path:
    """Exports a recipe run as a pretrained folder (see the module
    docstring).

    Arguments
    ---------
    run_or_checkpoint : str or Path
        The run's output folder, or one checkpoint folder in it.
    out_dir : str or Path
        The pretrained folder to write (see `check_out_dir`).
    overwrite : bool
        Write into an ``out_dir`` that holds other files (they are kept).
    onnx : bool
        Also write ``model.onnx`` (and ``stream.onnx``; see `export`).

    Returns
    -------
    Path
        ``out_dir``.
    """
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    given_run = Path(run_or_checkpoint).resolve() == run
    evaluated = checkpoint if given_run else _evaluated_checkpoint(run)
    out = Path(out_dir).resolve()
    merge = check_out_dir(out, overwrite)
    recipe_path = run / "hyperparams.yaml"
    try:
        recipe = round_trip_yaml().load(recipe_path)
    except YAMLError as error:
        raise PretrainedError(
            recipe_path, yaml_problem(error), _nothing(out)
        ) from error
    missing = [
        k
        for k in ("sample_rate", "num_spks", "Encoder", "MaskNet", "Decoder")
        if k not in recipe
    ]
    if missing:
        raise ValueError(
            f"{recipe_path} lacks {missing}: not a separation recipe run."
        )
    masknet = recipe["MaskNet"]
    header = (
        f"Pretrained {_class_name(masknet)} separator, exported "
        f"{EXPORT_MARK}\nfrom the recipe run {run}\n(checkpoint "
        f"{checkpoint.name}) on {datetime.date.today()}.\nLoad: "
        "SepformerSeparation.from_hparams(source=<this folder>, "
        "savedir=...)"
    )
    text = hyperparams_text(
        header,
        recipe["sample_rate"],
        recipe["num_spks"],
        recipe["Encoder"],
        masknet,
        recipe["Decoder"],
    )

    def fill(folder: Path) -> None:
        (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
        for name in LOADABLES:
            shutil.copyfile(
                checkpoint / f"{name}.ckpt", folder / f"{name}.ckpt"
            )
        try:
            hparams, modules = load_pretrained_modules(folder)
        except PretrainedError as error:  # name the run's files
            source = run if error.path.suffix == ".yaml" else checkpoint
            raise PretrainedError(
                source / error.path.name, error.problem, _nothing(out)
            ) from error
        provenance = run_provenance(
            run,
            checkpoint,
            recipe,
            _validation_si_snr(checkpoint),
            evaluated,
        )
        card = model_card(out, hparams, modules, provenance)
        (folder / "README.md").write_text(card, encoding="utf-8")

    write_pretrained(out, fill, merge, onnx)
    logger.info(f"Exported {checkpoint} to {out}")
    return out


def _nothing(out: Path) -> str:
    """What to do after a failed export."""
    return (
        f"Nothing was written to {out}. Pass another checkpoint (a "
        "save/CKPT+... folder of the run), or fix the run."
    )


def _class_name(node: CommentedMap) -> str:
    """``RESepFormer`` for a ``!new:lobes.resepformer.RESepFormer`` node."""
    return str(node.tag.value).rsplit(".", 1)[-1]


def _validation_si_snr(checkpoint: Path) -> float | None:
    """The checkpoint's validation SI-SNR in dB (None: not validated)."""
    meta = round_trip_yaml().load(checkpoint / "CKPT.yaml") or {}
    return -float(meta[CKPT_KEY]) if CKPT_KEY in meta else None


def _evaluated_checkpoint(run: Path) -> Path | None:
    """The checkpoint the recipe evaluates (None: no complete one)."""
    try:
        return _best_checkpoint(run / "save")
    except (FileNotFoundError, PretrainedError):
        return None


def export(
    source: str | Path,
    out_dir: str | Path,
    overwrite: bool = False,
    onnx: bool = False,
) -> Path:
    """`export_run` for a recipe run or checkpoint folder, `import_upstream`
    for an upstream pretrained folder.

    Arguments
    ---------
    source : str or Path
        A run folder, a checkpoint folder, or an upstream pretrained folder.
    out_dir : str or Path
        The pretrained folder to write (see `check_out_dir`).
    overwrite : bool
        Write into an ``out_dir`` that holds other files (they are kept).
    onnx : bool
        Also write ``model.onnx`` and, for a causal model, ``stream.onnx``
        (`lobes.inference.onnx_export.add_onnx`), checked against torch
        before the folder is put in place.

    Returns
    -------
    Path
        ``out_dir``.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: folder not found.")
    check_apart(out_dir, source)
    pretrained = (source / "masknet.ckpt").is_file() and not (
        source / "CKPT.yaml"
    ).is_file()
    if pretrained:
        return import_upstream(source, out_dir, overwrite, onnx)
    return export_run(source, out_dir, overwrite, onnx)


def check_apart(out_dir: str | Path, source: str | Path) -> None:
    """Raises ``ValueError`` when ``out_dir`` would be written where the
    export reads: the source folder, a folder inside it, or a folder
    holding it, such as the run folder of a checkpoint (whose
    ``hyperparams.yaml`` ``--overwrite`` would replace).

    Arguments
    ---------
    out_dir : str or Path
        The pretrained folder to write.
    source : str or Path
        The folder exported.

    Example
    -------
    >>> run = getfixture("tmp_path") / "run"
    >>> checkpoint = run / "save" / "CKPT+1"
    >>> check_apart(run.parent / "pretrained", checkpoint)
    >>> check_apart(run, checkpoint)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: OUT_DIR .../run holds the source folder .../CKPT+1, which ...
    >>> check_apart(run / "x", run)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: OUT_DIR .../run/x is inside the source folder .../run, ...
    """
    out, source = Path(out_dir).resolve(), Path(source).resolve()
    if out == source:
        relation = "is"
    elif source.is_relative_to(out):
        relation = "holds"
    elif out.is_relative_to(source):
        relation = "is inside"
    else:
        return
    raise ValueError(
        f"OUT_DIR {out} {relation} the source folder {source}, which the "
        "export reads: pass an OUT_DIR outside it."
    )
