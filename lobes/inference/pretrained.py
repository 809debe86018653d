"""The pretrained-folder format: what ``speechbrain.inference`` loads.

A pretrained folder holds ``hyperparams.yaml`` (``sample_rate``,
``num_spks``, the ``Encoder``, ``MaskNet`` and ``Decoder`` with every value
written out, ``modules`` and a ``pretrainer`` with the `LOADABLES`) and one
``<name>.ckpt`` state dict per loadable. `hyperparams_text` writes the YAML
(`lobes.inference.loading` loads a folder strictly).

`folder_kind_problem` tells a training run or a checkpoint from a pretrained
folder before anything is loaded. `check_out_dir` and `write_pretrained`
write a folder so that nothing is lost: under a temporary name, put in place
once complete and checked; a folder that lobes.export wrote
(`written_by_export`) is replaced, one with other files in it is refused
unless ``overwrite``, which writes the model's files into it and keeps the
others.

Authors
 * sepformer-lobes contributors 2026
"""

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.tag import Tag

from lobes.files import folder_problem, write_folder

logger = logging.getLogger(__name__)

LOADABLES = ("encoder", "masknet", "decoder")
EXPORTED_FILES = {
    "hyperparams.yaml",
    "README.md",
    "model.onnx",
    "stream.onnx",
} | {f"{name}.ckpt" for name in LOADABLES}
# in the header of every hyperparams.yaml that lobes.export writes
EXPORT_MARK = "by lobes.export"

MODULES_AND_PRETRAINER = """
modules:
    encoder: !ref <Encoder>
    masknet: !ref <MaskNet>
    decoder: !ref <Decoder>

# SepformerSeparation.from_hparams fetches <source>/<name>.ckpt for each
# loadable (symlinked into savedir when one is given).
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <Encoder>
        masknet: !ref <MaskNet>
        decoder: !ref <Decoder>
"""


def round_trip_yaml() -> YAML:
    """Round-trip YAML (keeps HyperPyYAML tags, anchors and comments).

    Returns
    -------
    ruamel.yaml.YAML
        Indented by four, 80 columns wide.

    Example
    -------
    >>> node = round_trip_yaml().load("Encoder: !new:torch.nn.Identity")
    >>> node["Encoder"].tag.value
    '!new:torch.nn.Identity'
    """
    yaml = YAML()
    yaml.indent(mapping=4, sequence=4, offset=2)
    yaml.width = 80
    return yaml


def new_node(target: str, kwargs: dict) -> CommentedMap:
    """A ``!new:<target>`` node for `hyperparams_text`.

    Arguments
    ---------
    target : str
        The class, e.g. ``lobes.resepformer.RESepFormer``.
    kwargs : dict
        Its keyword arguments (plain values).

    Returns
    -------
    CommentedMap
        The tagged mapping.

    Example
    -------
    >>> new_node("torch.nn.Linear", {"in_features": 2}).tag.value
    '!new:torch.nn.Linear'
    """
    node = CommentedMap(kwargs)
    node.yaml_set_ctag(Tag(suffix=f"!new:{target}"))
    return node


def hyperparams_text(
    header: str,
    sample_rate: int,
    num_spks: int,
    encoder: CommentedMap,
    masknet: CommentedMap,
    decoder: CommentedMap,
) -> str:
    """The ``hyperparams.yaml`` of a pretrained folder.

    Arguments
    ---------
    header : str
        Comment lines (without ``#``) at the top.
    sample_rate : int
        The model's sample rate.
    num_spks : int
        Speakers it separates.
    encoder, masknet, decoder : CommentedMap
        ``!new:`` nodes (as loaded from a recipe's YAML, or `new_node`).

    Returns
    -------
    str

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> text = hyperparams_text("A test", 8000, 2,
    ...     new_node("speechbrain.lobes.models.dual_path.Encoder",
    ...         {"kernel_size": 16, "out_channels": 16}),
    ...     new_node("lobes.resepformer.RESepFormer",
    ...         {"in_channels": 16, "nhead": 2}),
    ...     new_node("speechbrain.lobes.models.dual_path.Decoder",
    ...         {"in_channels": 16, "out_channels": 1, "kernel_size": 16,
    ...          "stride": 8, "bias": False}))
    >>> hparams = load_hyperpyyaml(text)
    >>> type(hparams["modules"]["masknet"]).__name__, hparams["num_spks"]
    ('RESepFormer', 2)
    """
    model = CommentedMap()
    model["sample_rate"] = int(sample_rate)
    model["num_spks"] = int(num_spks)
    model["Encoder"] = encoder
    model["MaskNet"] = masknet
    model["Decoder"] = decoder
    stream = io.StringIO()
    round_trip_yaml().dump(model, stream)
    body = re.sub(
        r"\n+(?=(Encoder|MaskNet|Decoder):)", "\n\n", stream.getvalue()
    )
    comments = "".join(
        f"# {line}".rstrip() + "\n" for line in header.splitlines()
    )
    return comments + "\n" + body.rstrip("\n") + "\n" + MODULES_AND_PRETRAINER


def written_by_export(folder: Path) -> bool:
    """Whether ``folder`` holds only a pretrained folder that lobes.export
    wrote (its files, and `EXPORT_MARK` in the header of its YAML).

    Arguments
    ---------
    folder : Path
        An existing folder.

    Returns
    -------
    bool

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "hyperparams.yaml").write_text(f"# x {EXPORT_MARK}")
    >>> written_by_export(folder)
    True
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> written_by_export(folder)
    False
    """
    names = {p.name for p in folder.iterdir()}
    if "hyperparams.yaml" not in names or not names <= EXPORTED_FILES:
        return False
    with open(folder / "hyperparams.yaml", encoding="utf-8") as f:
        header = f.read(1000)
    return EXPORT_MARK in header


def folder_kind_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a pretrained folder at all (a training run, a
    checkpoint, no ``hyperparams.yaml``), or None. Cheap: nothing loaded.

    Arguments
    ---------
    folder : Path
        What was given as a pretrained folder.

    Returns
    -------
    str or None
        One line, with what to do.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> (folder / "save").mkdir()
    >>> _ = (folder / "hyperparams.yaml").write_text("seed: 1")
    >>> folder_kind_problem(folder)  # doctest: +ELLIPSIS
    '...is a recipe run folder, not a pretrained folder: export it first...'
    """
    export_first = (
        "export it first (python -m lobes.export "
        f"{folder} OUT_DIR) and pass OUT_DIR"
    )
    if not folder.exists():
        return f"{folder}: folder not found. Check the path."
    if not folder.is_dir():
        return f"{folder} is a file; a pretrained folder is expected."
    if (folder / "CKPT.yaml").is_file():
        return f"{folder} is a training checkpoint: {export_first}."
    yaml = folder / "hyperparams.yaml"
    if not yaml.is_file():
        return (
            f"{folder} is not a pretrained model folder (no "
            "hyperparams.yaml). Export a recipe run with `python -m "
            "lobes.export RUN_DIR OUT_DIR`."
        )
    if (folder / "save").is_dir():
        return (
            f"{folder} is a recipe run folder, not a pretrained folder: "
            f"{export_first}."
        )
    if "pretrainer" not in yaml.read_text(encoding="utf-8", errors="replace"):
        return (
            f"{folder} is not a pretrained folder ({yaml.name} has no "
            f"pretrainer). If it is a recipe run, {export_first}."
        )
    return None


def check_out_dir(out: Path, overwrite: bool = False) -> bool:
    """Checks the folder an export writes, before anything is done.

    Arguments
    ---------
    out : Path
        ``OUT_DIR``: absent (created), empty, or a pretrained folder that
        lobes.export wrote (replaced once the new one has loaded).
    overwrite : bool
        Accept a folder with other files in it.

    Returns
    -------
    bool
        Whether the model's files go into ``out`` one by one (a folder
        with other files, kept) rather than replacing it as a whole.

    Example
    -------
    >>> out = getfixture("tmp_path")
    >>> _ = (out / "notes.txt").write_text("mine")
    >>> check_out_dir(out)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileExistsError: ...holds other files (notes.txt)...pass --overwrite...
    >>> check_out_dir(out, overwrite=True)
    True
    """
    problem = folder_problem(out)
    if problem:
        raise ValueError(
            f"{problem}: OUT_DIR is the pretrained folder to write. Choose "
            "another OUT_DIR."
        )
    if not out.is_dir() or not any(out.iterdir()) or written_by_export(out):
        return False
    if not overwrite:
        names = sorted(p.name for p in out.iterdir())
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise FileExistsError(
            f"{out} holds other files ({shown}), not a pretrained folder "
            "that lobes.export wrote: pass --overwrite (overwrite=True) to "
            "write the model's files into it (its other files are kept), or "
            "choose a new OUT_DIR."
        )
    return True


def write_pretrained(
    out: Path, fill: Callable[[Path], None], merge: bool, onnx: bool = False
) -> None:
    """Writes a pretrained folder through `lobes.files.write_folder`
    (temporary folder, then put in place), saying how many other files of
    ``out`` were kept.

    Arguments
    ---------
    out : Path
        The folder, checked by `check_out_dir`.
    fill : callable
        Writes and checks the files in the temporary folder it is given.
    merge : bool
        What `check_out_dir` returned.
    onnx : bool
        Also write ``model.onnx`` (and ``stream.onnx`` for a causal model)
        into the temporary folder once ``fill`` is done
        (`lobes.inference.onnx_export.add_onnx`: checked against torch).
    """

    def complete(folder: Path) -> None:
        fill(folder)
        if onnx:
            from lobes.inference.onnx_export import add_onnx

            add_onnx(folder)

    write_folder(out, complete, merge)
    if merge:
        kept = [p for p in out.iterdir() if p.name not in EXPORTED_FILES]
        logger.info(f"Kept the {len(kept)} other file(s) in {out}")
