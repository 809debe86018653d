"""Pretrained folders for ``speechbrain.inference`` from recipe runs and
from upstream SpeechBrain RE-SepFormer models.

::

    python -m lobes.export RUN_DIR OUT_DIR

turns a finished recipe run (its output folder, or one ``save/CKPT+...``
folder in it) into a self-contained pretrained folder:

- ``hyperparams.yaml``: ``sample_rate``, ``num_spks``, the run's
  ``Encoder``, ``MaskNet`` and ``Decoder`` with every value written out (no
  ``!include``, no reference to the recipe), ``modules`` and a
  ``pretrainer`` with the ``encoder``, ``masknet`` and ``decoder``
  loadables;
- ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt``: the checkpoint's
  weights (by default the checkpoint the recipe evaluates, the one with the
  best validation SI-SNR);
- ``README.md``: the model card (model, training data, test SI-SNRi and
  SDRi of the run, how to load it).

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
into ours: the masknet weights go through
`lobes.resepformer.convert_upstream_state_dict`, the encoder and decoder are
copied, and the two models' outputs are compared before anything is
written.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import csv
import datetime
import io
import re
import shutil
import sys
from pathlib import Path

import speechbrain
import torch
import torch.nn as nn
from hyperpyyaml import load_hyperpyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.tag import Tag
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import ResourceEfficientSeparator
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.logger import get_logger

from lobes.resepformer import (
    RESepFormer,
    convert_upstream_state_dict,
    upstream_module_config,
)

logger = get_logger(__name__)

LOADABLES = ("encoder", "masknet", "decoder")
# the key the recipes checkpoint on: validation loss, i.e. -SI-SNR
CKPT_KEY = "si-snr"
UPSTREAM_ATOL = 1e-4

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


def find_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """The run folder and the checkpoint to export.

    Arguments
    ---------
    path : str or Path
        A recipe run's output folder (the checkpoint with the best
        validation SI-SNR is taken, as the recipe's evaluation does), or
        one ``save/CKPT+...`` folder in it.

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
    """The checkpoint under ``save`` that the recipe evaluates."""
    if not save.is_dir():
        raise FileNotFoundError(
            f"{save} not found: the run has no checkpoints yet (train it "
            "first), or pass a checkpoint folder."
        )
    checkpointer = Checkpointer(save)
    best = checkpointer.find_checkpoint(min_key=CKPT_KEY)
    if best is None:  # only intra-epoch checkpoints: the latest
        best = checkpointer.find_checkpoint()
    if best is None:
        raise FileNotFoundError(
            f"No checkpoint (CKPT+...) in {save}: train the run first."
        )
    return Path(best.path)


def round_trip_yaml() -> YAML:
    """Round-trip YAML (keeps HyperPyYAML tags, anchors and comments)."""
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


def load_pretrained_modules(folder: str | Path) -> tuple[dict, dict]:
    """Builds a pretrained folder's modules and loads their weights strictly
    (SpeechBrain's Pretrainer only warns about missing or unexpected keys).

    Arguments
    ---------
    folder : str or Path
        Holds ``hyperparams.yaml`` and ``<name>.ckpt`` per loadable.

    Returns
    -------
    hparams : dict
        The loaded hyperparameters.
    modules : dict
        ``encoder``, ``masknet``, ``decoder`` with their weights, in eval
        mode.
    """
    folder = Path(folder)
    with open(folder / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    modules = {}
    for name in LOADABLES:
        module = hparams["modules"][name]
        path = folder / f"{name}.ckpt"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: a pretrained folder holds hyperparams.yaml"
                " and encoder.ckpt, masknet.ckpt, decoder.ckpt."
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ValueError(
                f"{path} does not fit the {name} of "
                f"{folder / 'hyperparams.yaml'}: {error}"
            ) from error
        modules[name] = module.eval()
    return hparams, modules


def export_run(run_or_checkpoint: str | Path, out_dir: str | Path) -> Path:
    """Exports a recipe run as a pretrained folder (see the module
    docstring).

    Arguments
    ---------
    run_or_checkpoint : str or Path
        The run's output folder, or one checkpoint folder in it.
    out_dir : str or Path
        The pretrained folder to write (created; files in it replaced).

    Returns
    -------
    Path
        ``out_dir``.
    """
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    out = Path(out_dir).resolve()
    recipe = round_trip_yaml().load(run / "hyperparams.yaml")
    missing = [
        k
        for k in ("sample_rate", "num_spks", "Encoder", "MaskNet", "Decoder")
        if k not in recipe
    ]
    if missing:
        raise ValueError(
            f"{run / 'hyperparams.yaml'} lacks {missing}: not a separation "
            "recipe run."
        )
    masknet = recipe["MaskNet"]
    header = (
        f"Pretrained {_class_name(masknet)} separator, exported by "
        f"lobes.export\nfrom the recipe run {run}\n(checkpoint "
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
    out.mkdir(parents=True, exist_ok=True)
    (out / "hyperparams.yaml").write_text(text, encoding="utf-8")
    for name in LOADABLES:
        shutil.copyfile(checkpoint / f"{name}.ckpt", out / f"{name}.ckpt")
    hparams, modules = load_pretrained_modules(out)  # fails loudly on misfit
    card = model_card(
        out, hparams, modules, _run_provenance(run, checkpoint, recipe)
    )
    (out / "README.md").write_text(card, encoding="utf-8")
    logger.info(f"Exported {checkpoint} to {out}")
    return out


def _class_name(node: CommentedMap) -> str:
    """``RESepFormer`` for a ``!new:lobes.resepformer.RESepFormer`` node."""
    return str(node.tag.value).rsplit(".", 1)[-1]


def _hours(seconds: float) -> str:
    """``2.5 h`` or ``12.0 min``."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def _read_csv(path: Path) -> list[dict]:
    """Rows of a CSV file, [] if it does not exist."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _run_provenance(run: Path, checkpoint: Path, recipe: dict) -> str:
    """Model-card sections on the training data and the test results."""
    first_lines = (run / "hyperparams.yaml").read_text().splitlines()[:3]
    source = next(
        (line[2:] for line in first_lines[1:] if line.startswith("# /")),
        "unknown",
    )
    corpus = "WHAM!" if "/WHAM/" in source else "WSJ0-2Mix"
    if recipe.get("num_spks", 2) == 3:
        corpus = "WSJ0-3Mix"
    lines = ["## Training data", ""]
    lines.append(f"- Recipe: `{source}` ({corpus} layout).")
    lines.append(f"- Data folder: `{recipe.get('data_folder')}`.")
    for split, key in (
        ("training", "train_data"),
        ("validation", "valid_data"),
        ("test", "test_data"),
    ):
        rows = _read_csv(Path(str(recipe.get(key, ""))))
        if rows:
            seconds = sum(float(r.get("duration") or 0) for r in rows)
            lines.append(
                f"- {split.capitalize()} set: {len(rows)} mixtures "
                f"({_hours(seconds)}), `{recipe.get(key)}`."
            )
    if recipe.get("dynamic_mixing"):
        lines.append(
            "- Dynamic mixing: new training mixtures every epoch from the "
            f"clean utterances in `{recipe.get('base_folder_dm')}`, "
            f"{recipe.get('training_signal_len')} samples long."
        )
    if recipe.get("limit_training_signal_len"):
        lines.append(
            f"- Training crops of {recipe.get('training_signal_len')} samples."
        )
    lines.append(f"- Sample rate: {recipe.get('sample_rate')} Hz.")
    counter = checkpoint / "counter.ckpt"
    epochs = counter.read_text().strip() if counter.is_file() else "?"
    meta = round_trip_yaml().load(checkpoint / "CKPT.yaml") or {}
    lines.append(
        f"- Checkpoint: `{checkpoint.name}`, after epoch {epochs} of "
        f"{recipe.get('N_epochs')}"
        + (
            f", validation SI-SNR {-float(meta[CKPT_KEY]):.2f} dB."
            if CKPT_KEY in meta
            else " (taken inside an epoch, not validated)."
        )
    )
    lines += ["", "## Test results", ""]
    rows = _read_csv(run / "test_results.csv")
    average = next((r for r in rows if r.get("snt_id") == "avg"), None)
    if average is None:
        lines.append(
            f"Not evaluated: {run / 'test_results.csv'} does not exist yet."
        )
    else:
        n = len(rows) - 1
        lines += [
            f"From `{run / 'test_results.csv'}` ({n} test mixtures; "
            "improvements over the unprocessed mixture):",
            "",
            "| SI-SNRi | SDRi | SI-SNR | SDR |",
            "|---:|---:|---:|---:|",
            f"| {float(average['si-snr_i']):.2f} dB "
            f"| {float(average['sdr_i']):.2f} dB "
            f"| {float(average['si-snr']):.2f} dB "
            f"| {float(average['sdr']):.2f} dB |",
        ]
        try:
            evaluated = _best_checkpoint(run / "save")
        except FileNotFoundError:
            evaluated = None
        if evaluated is not None and evaluated.name != checkpoint.name:
            lines += [
                "",
                f"These are the scores of `{evaluated.name}`, the "
                "checkpoint the recipe evaluates (best validation SI-SNR); "
                f"this folder holds `{checkpoint.name}`, which was not "
                "evaluated.",
            ]
    return "\n".join(lines)


def model_card(
    folder: Path, hparams: dict, modules: dict, provenance: str
) -> str:
    """The README.md of a pretrained folder.

    Arguments
    ---------
    folder : Path
        The pretrained folder.
    hparams : dict
        Its loaded hyperparameters.
    modules : dict
        Its loaded encoder, masknet and decoder.
    provenance : str
        Markdown sections on where the weights come from and how they score.

    Returns
    -------
    str
    """
    masknet = modules["masknet"]
    encoder_conv = getattr(modules["encoder"], "conv1d", None)
    params = sum(p.numel() for m in modules.values() for p in m.parameters())
    rate = hparams["sample_rate"]
    name = type(masknet).__name__
    lines = [
        f"# {name} speech separation ({hparams['num_spks']} speakers, "
        f"{rate} Hz)",
        "",
        "## Model",
        "",
        f"- Mask network: `{type(masknet).__module__}.{name}`, between "
        "SpeechBrain's `dual_path.Encoder` and `Decoder`.",
        f"- Parameters: {params / 1e6:.2f} M (encoder, masknet, decoder).",
    ]
    if encoder_conv is not None:
        k, s = encoder_conv.kernel_size[0], encoder_conv.stride[0]
        lines.append(
            f"- Encoder: {encoder_conv.out_channels} filters of {k} samples, "
            f"stride {s} ({1000 * s / rate:.2f} ms frames)."
        )
    causal = bool(getattr(masknet, "causal", False))
    lines.append(f"- Causal: {'yes' if causal else 'no'}.")
    if causal and hasattr(masknet, "stream_frames") and encoder_conv:
        latency = (masknet.stream_frames - 1) * s + k - 1
        lines.append(
            f"- Streams (`python -m lobes.separate --stream`) with "
            f"{masknet.stream_frames} encoder frames a step: a separated "
            f"sample comes out at most {latency} input samples "
            f"({1000 * latency / rate:.1f} ms) after its input sample."
        )
    lines += ["", provenance, ""]
    lines += [
        "## How to load",
        "",
        "Needs `speechbrain` and, for `lobes.*` classes, this package "
        "(`pip install sepformer-lobes`). Nothing is downloaded: the source "
        "is this folder.",
        "",
        "```python",
        "from speechbrain.inference.separation import SepformerSeparation",
        "",
        "model = SepformerSeparation.from_hparams(",
        f'    source="{folder}",',
        '    savedir="pretrained_models/this_model",  # or None: no links',
        ")",
        f"est = model.separate_batch(mix)  # mix: [batch, time] at {rate} Hz",
        "```",
        "",
        "`savedir` receives symlinks to the files here; SpeechBrain reuses a "
        "file already in savedir, so give each model its own savedir (or "
        "none). Recordings of any length, at any sample rate:",
        "",
        "```bash",
        f"python -m lobes.separate MIX.wav --model {folder} --out separated/",
        "```",
        "",
        "## Files",
        "",
        "`hyperparams.yaml` (model definition and `pretrainer`), "
        "`encoder.ckpt`, `masknet.ckpt`, `decoder.ckpt` (state dicts), this "
        f"card. Written by `lobes.export` with SpeechBrain "
        f"{speechbrain.__version__} and torch {torch.__version__}.",
        "",
    ]
    return "\n".join(lines)


def import_upstream(source: str | Path, out_dir: str | Path) -> Path:
    """Converts an upstream SpeechBrain RE-SepFormer pretrained folder.

    Arguments
    ---------
    source : str or Path
        Holds upstream's ``hyperparams.yaml`` (a
        ``ResourceEfficientSeparator`` masknet, ``mem_type: av``,
        ``SBTransformerBlock_wnormandskip`` blocks) and ``encoder.ckpt``,
        ``masknet.ckpt``, ``decoder.ckpt``.
    out_dir : str or Path
        The pretrained folder to write, with a `lobes.resepformer.RESepFormer`.

    Returns
    -------
    Path
        ``out_dir``.
    """
    source = Path(source).resolve()
    hparams, upstream = load_pretrained_modules(source)
    masknet = upstream["masknet"]
    if not isinstance(masknet, ResourceEfficientSeparator):
        raise ValueError(
            f"{source} holds a {type(masknet).__name__} masknet; only "
            "upstream RE-SepFormer (ResourceEfficientSeparator) folders are "
            "converted. Other SpeechBrain separation folders load as they "
            f"are: python -m lobes.separate MIX.wav --model {source} --out "
            "OUT_DIR."
        )
    sample_rate = hparams.get("sample_rate")
    if sample_rate is None:
        raise ValueError(
            f"{source / 'hyperparams.yaml'} has no sample_rate: add the rate "
            "the model was trained at (e.g. sample_rate: 8000)."
        )
    config = upstream_module_config(masknet)
    ours = RESepFormer(**config).eval()
    ours.load_state_dict(convert_upstream_state_dict(masknet.state_dict()))
    error = _compare_upstream(upstream, ours)
    if error > UPSTREAM_ATOL:
        raise ValueError(
            f"the converted model differs from {source} by {error:.2e} "
            f"(tolerance {UPSTREAM_ATOL}); not written."
        )
    header = (
        "Pretrained RESepFormer separator, converted by lobes.export from\n"
        f"the upstream SpeechBrain RE-SepFormer folder {source}\non "
        f"{datetime.date.today()}.\nLoad: "
        "SepformerSeparation.from_hparams(source=<this folder>, savedir=...)"
    )
    text = hyperparams_text(
        header,
        sample_rate,
        hparams.get("num_spks", config["num_spks"]),
        new_node(
            "speechbrain.lobes.models.dual_path.Encoder",
            _encoder_kwargs(upstream["encoder"]),
        ),
        new_node("lobes.resepformer.RESepFormer", config),
        new_node(
            "speechbrain.lobes.models.dual_path.Decoder",
            _decoder_kwargs(upstream["decoder"]),
        ),
    )
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "hyperparams.yaml").write_text(text, encoding="utf-8")
    for name in ("encoder", "decoder"):
        shutil.copyfile(source / f"{name}.ckpt", out / f"{name}.ckpt")
    torch.save(ours.state_dict(), out / "masknet.ckpt")
    hparams, modules = load_pretrained_modules(out)
    provenance = "\n".join(
        [
            "## Origin",
            "",
            f"Converted from the upstream SpeechBrain RE-SepFormer in "
            f"`{source}` (`ResourceEfficientSeparator`, weights mapped by "
            "`lobes.resepformer.convert_upstream_state_dict`). On a test "
            f"input the two models' outputs differ by at most {error:.1e}. "
            "Training data and test scores: see the original model's card"
            + (
                f" (`{source / 'README.md'}`)."
                if (source / "README.md").is_file()
                else "."
            ),
        ]
    )
    card = model_card(out, hparams, modules, provenance)
    (out / "README.md").write_text(card, encoding="utf-8")
    logger.info(f"Converted {source} to {out}")
    return out


@torch.no_grad()
def _compare_upstream(upstream: dict, ours: RESepFormer) -> float:
    """Largest difference between upstream's and our separation of 0.3 s of
    noise (batch 1, where the two agree exactly in exact arithmetic)."""
    encoder, decoder = upstream["encoder"], upstream["decoder"]
    generator = torch.Generator().manual_seed(0)
    chunk = ours.chunk_size * encoder.conv1d.stride[0]
    mix = torch.randn(1, max(2400, 2 * chunk + 37), generator=generator)
    h = encoder(mix)
    theirs = upstream["masknet"](h) * h
    mine = ours(h) * h
    return max(
        (decoder(a) - decoder(b)).abs().max().item()
        for a, b in zip(theirs, mine, strict=True)
    )


def _encoder_kwargs(encoder: nn.Module) -> dict:
    """Keyword arguments rebuilding a SpeechBrain ``dual_path.Encoder``."""
    if not isinstance(encoder, Encoder):
        raise ValueError(
            f"the encoder is a {type(encoder).__name__}; expected "
            "speechbrain.lobes.models.dual_path.Encoder."
        )
    conv = encoder.conv1d
    kwargs = {
        "kernel_size": conv.kernel_size[0],
        "out_channels": conv.out_channels,
    }
    if conv.in_channels != 1:
        kwargs["in_channels"] = conv.in_channels
    return kwargs


def _decoder_kwargs(decoder: nn.Module) -> dict:
    """Keyword arguments rebuilding a SpeechBrain ``dual_path.Decoder``."""
    if not isinstance(decoder, Decoder):
        raise ValueError(
            f"the decoder is a {type(decoder).__name__}; expected "
            "speechbrain.lobes.models.dual_path.Decoder."
        )
    kwargs = {
        "in_channels": decoder.in_channels,
        "out_channels": decoder.out_channels,
        "kernel_size": decoder.kernel_size[0],
        "stride": decoder.stride[0],
        "bias": decoder.bias is not None,
    }
    if decoder.padding[0]:
        kwargs["padding"] = decoder.padding[0]
    return kwargs


def export(source: str | Path, out_dir: str | Path) -> Path:
    """`export_run` for a recipe run or checkpoint folder, `import_upstream`
    for an upstream pretrained folder.

    Arguments
    ---------
    source : str or Path
        A run folder, a checkpoint folder, or an upstream pretrained folder.
    out_dir : str or Path
        The pretrained folder to write.

    Returns
    -------
    Path
        ``out_dir``.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: folder not found.")
    if Path(out_dir).resolve() == source.resolve():
        raise ValueError("OUT_DIR must differ from the source folder.")
    pretrained = (source / "masknet.ckpt").is_file() and not (
        source / "CKPT.yaml"
    ).is_file()
    if pretrained:
        return import_upstream(source, out_dir)
    return export_run(source, out_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m lobes.export SOURCE OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.export",
        description="Write a pretrained folder that speechbrain.inference "
        "loads, from a recipe run (its output folder or one save/CKPT+... "
        "folder) or from an upstream SpeechBrain RE-SepFormer folder.",
    )
    parser.add_argument("source", help="run, checkpoint or upstream folder")
    parser.add_argument("out_dir", help="pretrained folder to write")
    args = parser.parse_args(argv)
    try:
        out = export(args.source, args.out_dir)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    print(f"Wrote {out} ({', '.join(sorted(p.name for p in out.iterdir()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
