"""Upstream SpeechBrain RE-SepFormer pretrained folders converted into
ours.

``python -m lobes.export UPSTREAM_DIR OUT_DIR`` (`import_upstream`) reads a
pretrained folder in upstream SpeechBrain's RE-SepFormer format
(``hyperparams.yaml`` with a
``speechbrain.lobes.models.resepformer.ResourceEfficientSeparator`` and its
``.ckpt`` files, e.g. a local copy of ``speechbrain/resepformer-wsj02mix``):
the masknet weights go through
`lobes.resepformer_upstream.convert_upstream_state_dict`, the encoder and
decoder are copied, and the two models' outputs are compared before anything
is written (then as `lobes.inference.pretrained.write_pretrained` writes:
complete, or not at all).

Authors
 * sepformer-lobes contributors 2026
"""

import datetime
import shutil
from pathlib import Path

import torch
import torch.nn as nn
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import ResourceEfficientSeparator
from speechbrain.utils.logger import get_logger

from lobes.inference.loading import load_pretrained_modules
from lobes.inference.model_card import model_card, upstream_provenance
from lobes.inference.pretrained import (
    EXPORT_MARK,
    check_out_dir,
    hyperparams_text,
    new_node,
    write_pretrained,
)
from lobes.model import EncoderMaskerDecoder
from lobes.resepformer import RESepFormer
from lobes.resepformer_upstream import (
    from_upstream,
    upstream_module_config,
)

logger = get_logger(__name__)

UPSTREAM_ATOL = 1e-4


def import_upstream(
    source: str | Path,
    out_dir: str | Path,
    overwrite: bool = False,
    onnx: bool = False,
) -> Path:
    """Converts an upstream SpeechBrain RE-SepFormer pretrained folder.

    Arguments
    ---------
    source : str or Path
        Holds upstream's ``hyperparams.yaml`` (a
        ``ResourceEfficientSeparator`` masknet, ``mem_type: av``,
        ``SBTransformerBlock_wnormandskip`` blocks) and ``encoder.ckpt``,
        ``masknet.ckpt``, ``decoder.ckpt``.
    out_dir : str or Path
        The pretrained folder to write, with a `lobes.resepformer.RESepFormer`
        (see `check_out_dir`).
    overwrite : bool
        Write into an ``out_dir`` that holds other files (they are kept).
    onnx : bool
        Also write ``model.onnx`` (see `lobes.inference.export.export`).

    Returns
    -------
    Path
        ``out_dir``.
    """
    source = Path(source).resolve()
    out = Path(out_dir).resolve()
    merge = check_out_dir(out, overwrite)
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
        f"Pretrained RESepFormer separator, converted {EXPORT_MARK} from\n"
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

    def fill(folder: Path) -> None:
        (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
        for name in ("encoder", "decoder"):
            shutil.copyfile(source / f"{name}.ckpt", folder / f"{name}.ckpt")
        torch.save(ours.state_dict(), folder / "masknet.ckpt")
        hparams, modules = load_pretrained_modules(folder)
        provenance = upstream_provenance(source, error)
        card = model_card(out, hparams, modules, provenance)
        (folder / "README.md").write_text(card, encoding="utf-8")

    write_pretrained(out, fill, merge, onnx)
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
