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
  best validation SI-SNR);
- ``README.md``: the model card (model, training data, test SI-SNRi and
  SDRi of the run, how to load it; `lobes.inference.model_card`).

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
into ours (`import_upstream`): the masknet weights go through
`lobes.resepformer_upstream.convert_upstream_state_dict`, the encoder and
decoder are copied, and the two models' outputs are compared before anything
is written.

Authors
 * sepformer-lobes contributors 2026
"""

import datetime
import shutil
from pathlib import Path

import torch
import torch.nn as nn
from ruamel.yaml.comments import CommentedMap
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import ResourceEfficientSeparator
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.logger import get_logger

from lobes.inference.model_card import (
    model_card,
    run_provenance,
    upstream_provenance,
)
from lobes.inference.pretrained import (
    LOADABLES,
    hyperparams_text,
    load_pretrained_modules,
    new_node,
    round_trip_yaml,
)
from lobes.model import EncoderMaskerDecoder
from lobes.resepformer import RESepFormer
from lobes.resepformer_upstream import (
    from_upstream,
    upstream_module_config,
)

logger = get_logger(__name__)

# the key the recipes checkpoint on: validation loss, i.e. -SI-SNR
CKPT_KEY = "si-snr"
UPSTREAM_ATOL = 1e-4


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
    provenance = run_provenance(
        run,
        checkpoint,
        recipe,
        _validation_si_snr(checkpoint),
        _evaluated_checkpoint(run),
    )
    card = model_card(out, hparams, modules, provenance)
    (out / "README.md").write_text(card, encoding="utf-8")
    logger.info(f"Exported {checkpoint} to {out}")
    return out


def _class_name(node: CommentedMap) -> str:
    """``RESepFormer`` for a ``!new:lobes.resepformer.RESepFormer`` node."""
    return str(node.tag.value).rsplit(".", 1)[-1]


def _validation_si_snr(checkpoint: Path) -> float | None:
    """The checkpoint's validation SI-SNR in dB (None: not validated)."""
    meta = round_trip_yaml().load(checkpoint / "CKPT.yaml") or {}
    return -float(meta[CKPT_KEY]) if CKPT_KEY in meta else None


def _evaluated_checkpoint(run: Path) -> Path | None:
    """The checkpoint the recipe evaluates (None: no checkpoints)."""
    try:
        return _best_checkpoint(run / "save")
    except FileNotFoundError:
        return None


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
    ours = from_upstream(masknet).eval()
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
    card = model_card(out, hparams, modules, upstream_provenance(source, error))
    (out / "README.md").write_text(card, encoding="utf-8")
    logger.info(f"Converted {source} to {out}")
    return out


def _compare_upstream(upstream: dict, ours: RESepFormer) -> float:
    """Largest difference between upstream's and our separation of 0.3 s of
    noise (batch 1, where the two agree exactly in exact arithmetic)."""
    encoder, decoder = upstream["encoder"], upstream["decoder"]
    generator = torch.Generator().manual_seed(0)
    chunk = ours.chunk_size * encoder.conv1d.stride[0]
    mix = torch.randn(1, max(2400, 2 * chunk + 37), generator=generator)
    theirs = EncoderMaskerDecoder(encoder, upstream["masknet"], decoder)
    mine = EncoderMaskerDecoder(encoder, ours, decoder)
    return (theirs.separate(mix) - mine.separate(mix)).abs().max().item()


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
