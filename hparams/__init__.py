"""The model registry: every model definition of this folder by its one name.

A model's name is the stem of its definition, ``hparams/<name>.yaml``, and
of its recipe files, ``recipes/<corpus>/hparams/<name>.yaml``; its label is
its masknet's class name. Each entry also carries two sizes, as overrides
of the definition's keys (what ``--model="{...}"`` takes):

- ``tiny``: the smallest configuration that runs every code path (tests,
  smoke runs of the recipes and benchmarks);
- ``small``: a CPU-sized model, every one at about 0.3 GMACs per second of
  8 kHz audio (``make demo`` and the equal-budget quality benchmark).

Beside our lobes, two definitions build upstream SpeechBrain's own models
as its WSJ0Mix recipes do, the baselines (``upstream=True``): SepFormer
(``sepformer``) and RE-SepFormer (``resepformer_sb``, which takes the
sizes of our ``resepformer``: the same function, so they compare at equal
budget).

The tests, the benchmarks, the demo and the recipe files all name models
through `MODELS`. This folder is part of the checkout, not of the
installed ``lobes`` package (exported models carry their whole definition).

Example
-------
>>> import torch
>>> model = MODELS["resepformer"].build(MODELS["resepformer"].tiny)
>>> type(model.masknet).__name__, model.separate(torch.randn(1, 800)).shape
('RESepFormer', torch.Size([1, 800, 2]))
>>> model_option({"chunk_size": 20, "causal": True})
'{chunk_size: 20, causal: True}'
"""

from dataclasses import dataclass, field
from pathlib import Path

from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.models.dual_path import Dual_Path_Model
from speechbrain.lobes.models.resepformer import ResourceEfficientSeparator

from lobes.fsmn_flash import FlashFormer
from lobes.latent_xattn import LatentSepFormer
from lobes.model import EncoderMaskerDecoder
from lobes.resepformer import RESepFormer

FOLDER = Path(__file__).resolve().parent
# RE-SepFormer's sizes, ours and upstream's alike (the two definitions share
# their keys and compute the same function)
RESEPFORMER_TINY = dict(
    N_encoder_out=16,
    chunk_size=20,
    nhead=1,
    d_ffn=32,
    intra_layers=1,
    memory_layers=1,
)
RESEPFORMER_SMALL = dict(
    N_encoder_out=64,
    intra_layers=2,
    memory_layers=2,
    nhead=4,
    d_ffn=256,
    chunk_size=100,
)


@dataclass(frozen=True)
class ModelDefinition:
    """One model definition, ``hparams/<name>.yaml``.

    Arguments
    ---------
    name : str
        The definition's file stem: the model's name everywhere.
    masknet : type
        The masknet class the definition builds; its name is the label.
    title : str
        What the model is, in a few words (recipe headers, docs).
    tiny : dict
        Overrides giving the smallest configuration.
    small : dict
        Overrides giving the CPU-sized (about 0.3 GMACs/s) configuration.
    upstream : bool
        SpeechBrain's own model (the baseline), not one of our lobes.
    """

    name: str
    masknet: type
    title: str
    tiny: dict = field(default_factory=dict)
    small: dict = field(default_factory=dict)
    upstream: bool = False

    @property
    def label(self) -> str:
        """The masknet's class name, e.g. ``RESepFormer``."""
        return self.masknet.__name__

    @property
    def path(self) -> Path:
        """``hparams/<name>.yaml``."""
        return FOLDER / f"{self.name}.yaml"

    def load(self, overrides: dict | None = None) -> dict:
        """The definition's hyperparameters, with ``overrides``."""
        with open(self.path, encoding="utf-8") as f:
            return load_hyperpyyaml(f, overrides or {})

    def build(self, overrides: dict | None = None) -> EncoderMaskerDecoder:
        """The encoder, masknet and decoder of the definition."""
        hparams = self.load(overrides)
        return EncoderMaskerDecoder(
            hparams["Encoder"], hparams["MaskNet"], hparams["Decoder"]
        )


def model_option(overrides: dict) -> str:
    """``overrides`` as the flow mapping ``--model=`` takes."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in overrides.items()) + "}"


MODELS = {
    model.name: model
    for model in (
        ModelDefinition(
            "resepformer",
            RESepFormer,
            "RE-SepFormer",
            tiny=RESEPFORMER_TINY,
            small=RESEPFORMER_SMALL,
        ),
        ModelDefinition(
            "latent_xattn",
            LatentSepFormer,
            "LatentSepFormer (latent cross-attention)",
            tiny=dict(
                N_encoder_out=16,
                byte_channels=16,
                chunk_size=20,
                num_repeats=1,
                num_latents=2,
                latent_dim=8,
                attention_dim=24,
                nhead=2,
                d_ffn=32,
                latent_d_ffn=16,
                num_global_latents=2,
                global_dim=16,
                global_d_ffn=16,
            ),
            small=dict(
                N_encoder_out=64,
                byte_channels=64,
                chunk_size=100,
                num_repeats=4,
                num_latents=8,
                latent_dim=32,
                attention_dim=100,
                nhead=4,
                d_ffn=256,
                latent_d_ffn=128,
                num_global_latents=8,
                global_dim=64,
                global_d_ffn=256,
            ),
        ),
        ModelDefinition(
            "fsmn_flash",
            FlashFormer,
            "FlashFormer (FSMN + flash attention)",
            tiny=dict(
                N_encoder_out=16,
                num_layers=2,
                nhead=2,
                d_ffn=32,
                window_size=20,
                fsmn_hidden=16,
                fsmn_kernel_size=3,
            ),
            small=dict(
                N_encoder_out=64,
                num_layers=3,
                nhead=4,
                d_ffn=256,
                window_size=100,
                fsmn_hidden=128,
            ),
        ),
        ModelDefinition(
            "sepformer",
            Dual_Path_Model,
            "SepFormer (baseline)",
            tiny=dict(
                N_encoder_out=16,
                chunk_size=20,
                nhead=1,
                d_ffn=32,
                intra_layers=1,
                inter_layers=1,
                num_blocks=1,
            ),
            small=dict(
                N_encoder_out=64,
                num_blocks=1,
                intra_layers=1,
                inter_layers=1,
                nhead=4,
                d_ffn=256,
                chunk_size=100,
            ),
            upstream=True,
        ),
        ModelDefinition(
            "resepformer_sb",
            ResourceEfficientSeparator,
            "RE-SepFormer (SpeechBrain)",
            tiny=RESEPFORMER_TINY,
            small=RESEPFORMER_SMALL,
            upstream=True,
        ),
    )
}
