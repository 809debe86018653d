"""The models the suite benchmarks, each an `EncoderMaskerDecoder`.

Our three lobes, upstream SepFormer and upstream RE-SepFormer are the
model registry's definitions (`hparams.MODELS`), the lobes and SepFormer
under the same names, RE-SepFormer's ``resepformer_sb`` as
``sb-resepformer``, with the registry's ``tiny`` sizes for smoke runs;
SepFormer-Light is the ``sepformer`` definition with N=128 and d_ffn 512.
Upstream SkiM is built here from SpeechBrain's classes, as SpeechBrain's
WSJ0Mix recipe builds it (it is not a model definition of this project).
"""

from collections.abc import Callable
from dataclasses import dataclass

from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import (
    MemLSTM,
    ResourceEfficientSeparator,
    SegLSTM,
)

from hparams import MODELS as REGISTRY
from lobes.model import EncoderMaskerDecoder

SAMPLE_RATE, KERNEL, STRIDE = 8000, 16, 8
# the upstream models every time and memory is given as a ratio against
REFERENCES = ("sepformer", "sepformer-light", "sb-resepformer", "sb-skim")


@dataclass(frozen=True)
class Model:
    """One benchmarked model.

    Arguments
    ---------
    label : str
        Name in tables and plots.
    source : str
        ``ours`` or ``SpeechBrain``.
    config : str
        Where its configuration comes from.
    build : callable
        ``build(tiny)`` -> `EncoderMaskerDecoder`; ``tiny=True`` gives a
        tiny configuration of the same code, for smoke tests.
    definition : str, optional
        The registry name of its model definition (None: built here).
    """

    label: str
    source: str
    config: str
    build: Callable[[bool], EncoderMaskerDecoder]
    definition: str | None = None


def registered(
    name: str,
    config: str,
    label: str | None = None,
    overrides: dict | None = None,
) -> Model:
    """A model of the registry, ``hparams/<name>.yaml``.

    Arguments
    ---------
    name : str
        Its registry name.
    config : str
        Its configuration, in a few words.
    label : str, optional
        Name in tables (default: the registry's label, the masknet class).
    overrides : dict, optional
        Changes to the definition (not applied to the tiny size, which is
        the registry's ``tiny``).

    Returns
    -------
    Model
    """
    definition = REGISTRY[name]

    def build(tiny: bool) -> EncoderMaskerDecoder:
        return definition.build(definition.tiny if tiny else overrides)

    source = "SpeechBrain" if definition.upstream else "ours"
    return Model(label or definition.label, source, config, build, name)


def with_encoder_decoder(
    masknet: ResourceEfficientSeparator, channels: int
) -> EncoderMaskerDecoder:
    """``masknet`` between SpeechBrain's Encoder and Decoder, as the
    WSJ0Mix recipes set them."""
    encoder = Encoder(kernel_size=KERNEL, out_channels=channels)
    decoder = Decoder(
        channels, 1, kernel_size=KERNEL, stride=STRIDE, bias=False
    )
    return EncoderMaskerDecoder(encoder, masknet, decoder)


def sb_skim(
    channels: int = 128,
    hidden: int = 256,
    blocks: int = 4,
    segment_size: int = 150,
) -> EncoderMaskerDecoder:
    """Upstream SkiM as recipes/WSJ0Mix skim.yaml builds it (non-causal,
    4 blocks of bidirectional LSTMs of 256 units, segments of 150 frames,
    "hc" memory: 14.5 M parameters, the paper's Table 3)."""
    masknet = ResourceEfficientSeparator(
        input_dim=channels,
        num_spk=2,
        causal=False,
        unit=hidden,
        segment_size=segment_size,
        layer=blocks,
        mem_type="hc",
        seg_model=SegLSTM(
            input_size=channels,
            hidden_size=hidden,
            bidirectional=True,
            norm_type="gln",
        ),
        mem_model=MemLSTM(
            hidden_size=hidden,
            bidirectional=True,
            norm_type="gln",
            mem_type="hc",
        ),
    )
    return with_encoder_decoder(masknet, channels)


MODELS = {
    "resepformer": registered(
        "resepformer",
        "hparams/resepformer.yaml: N=128, 8+8 layers, d_ffn 1024, chunk 150",
    ),
    "latent_xattn": registered(
        "latent_xattn", "hparams/latent_xattn.yaml: N=256, R=16, chunk 150"
    ),
    "fsmn_flash": registered(
        "fsmn_flash",
        "hparams/fsmn_flash.yaml: N=128, 12 layers, windows of 256",
    ),
    "sepformer": registered(
        "sepformer",
        "hparams/sepformer.yaml: N=256, 2 x (8+8) layers, chunk 250",
        label="SepFormer",
    ),
    "sepformer-light": registered(
        "sepformer",
        "hparams/sepformer.yaml with N=128, d_ffn 512",
        label="SepFormer-Light",
        overrides=dict(N_encoder_out=128, d_ffn=512),
    ),
    "sb-resepformer": registered(
        "resepformer_sb",
        "hparams/resepformer_sb.yaml: ResourceEfficientSeparator as "
        "SpeechBrain's WSJ0Mix resepformer.yaml",
        label="RE-SepFormer",
    ),
    "sb-skim": Model(
        "SkiM",
        "SpeechBrain",
        "ResourceEfficientSeparator (SegLSTM/MemLSTM) as its skim.yaml",
        lambda tiny: sb_skim(32, 16, 2, 50) if tiny else sb_skim(),
    ),
}


def samples(seconds: float) -> int:
    """Samples of ``seconds`` of 8 kHz audio."""
    return int(round(seconds * SAMPLE_RATE))


def frames(seconds: float) -> int:
    """Encoder frames of ``seconds`` of audio (kernel 16, stride 8).

    Example
    -------
    >>> samples(1.0), frames(1.0)
    (8000, 999)
    """
    return (samples(seconds) - KERNEL) // STRIDE + 1
