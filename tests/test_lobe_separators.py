"""Tests of the lobes inside this project's whole separators
(`lobes.model.EncoderMaskerDecoder`) and model definitions (hparams/ and
recipes/*/hparams/): parameter and MAC counts of whole separators (the
RE-SepFormer paper's rows, the default sizes), the separation pipeline,
the causal latency in samples, and the recipe files.

They stand here, not in the lobes' own test files (tests/test_<lobe>.py),
because those go to SpeechBrain as they are (``python -m upstream``) and
so import only pytest, torch, SpeechBrain, the standard library and the
lobes; the tiny models come from there."""

import functools
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from test_fsmn_flash import tiny as tiny_flashformer
from test_latent_xattn import DIM, randn
from test_latent_xattn import tiny as tiny_latent

from hparams import MODELS
from lobes.attention import count_macs
from lobes.fsmn_flash import FlashFormer
from lobes.latent_xattn import LatentSepFormer
from lobes.model import EncoderMaskerDecoder
from lobes.resepformer import RESepFormer

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


def separator(
    masknet: nn.Module, channels: int, bias: bool = False
) -> EncoderMaskerDecoder:
    """``masknet`` between SpeechBrain's encoder and decoder (kernel 16,
    stride 8), as the recipes build them."""
    return EncoderMaskerDecoder(
        Encoder(kernel_size=16, out_channels=channels),
        masknet,
        Decoder(channels, 1, kernel_size=16, stride=8, bias=bias),
    )


# Table 4 rows (row 1 = the paper's model, Tables 1 and 3):
# intra layers, intra d_ffn, memory layers, memory d_ffn, M params, GMACs/s
PAPER = [
    (8, 1024, 8, 1024, 8.0, 6.3),
    (4, 1024, 8, 1024, 5.3, 3.2),
    (8, 512, 8, 1024, 5.8, 4.0),
    (8, 1024, 4, 1024, 6.6, 6.2),
    (8, 1024, 8, 512, 6.9, 6.2),
    (4, 512, 4, 512, 2.4, 2.0),
]


@pytest.mark.parametrize("row", PAPER, ids=lambda r: "-".join(map(str, r[:4])))
def test_resepformer_paper_parameters_and_macs(row):
    """Encoder + masknet + decoder, N = 128, 8 heads, chunks of 150, as the
    published recipe; MACs per second counted on one second of 8 kHz."""
    intra, intra_ffn, memory, memory_ffn, params, gmacs = row
    masknet = RESepFormer(
        128,
        intra_layers=intra,
        intra_d_ffn=intra_ffn,
        memory_layers=memory,
        memory_d_ffn=memory_ffn,
    )
    model = separator(masknet, 128).eval()
    count = sum(p.numel() for p in model.parameters())
    assert count / 1e6 == pytest.approx(params, rel=0.01)
    mix = torch.randn(1, 8000)
    macs = count_macs(lambda: model.separate(mix))
    assert macs / 1e9 == pytest.approx(gmacs, rel=0.05)


def test_latent_between_encoder_and_decoder():
    """Used exactly like Dual_Path_Model in the separation pipeline."""
    model = separator(tiny_latent(), DIM)
    mix = randn(3, 8 * 153 + 8)  # 153 frames: not a multiple of CHUNK
    assert model(mix).shape == (3, 8 * 153 + 8, 2)


def test_latent_meta_count_equals_real_count():
    """Counting on the meta device (shapes only, instant) is exact."""
    model = separator(tiny_latent(), DIM, bias=True)
    mix = randn(1, 3000)
    real = count_macs(lambda: model.separate(mix))
    meta_model, meta_mix = model.to("meta"), mix.to("meta")
    assert count_macs(lambda: meta_model.separate(meta_mix)) == real


def test_latent_default_size_is_equal_compute_to_resepformer():
    """Encoder + masknet + decoder of the default configuration (hparams/
    latent_xattn.yaml): GMACs per second of 8 kHz audio within 10 % of
    RE-SepFormer's paper configuration (6.3), counted on 4 s; the count
    grows linearly with the length."""
    model = separator(LatentSepFormer(256), 256, bias=True).to("meta")

    def gmacs_per_second(seconds: int) -> float:
        mix = torch.empty(1, 8000 * seconds, device="meta")
        return count_macs(lambda: model.separate(mix)) / seconds / 1e9

    per_second = [gmacs_per_second(s) for s in (4, 64)]
    assert per_second[0] == pytest.approx(6.3, rel=0.10)
    assert per_second[1] == pytest.approx(per_second[0], rel=0.02)


def test_flashformer_causal_separation_waits_for_15_samples():
    """With SpeechBrain's encoder (kernel 16, stride 8) and decoder, output
    sample n depends on input samples up to n + 15 (1.9 ms at 8 kHz)."""
    torch.manual_seed(0)
    masknet = tiny_flashformer(causal=True)
    model = separator(masknet, masknet.in_channels)
    mix = torch.randn(1, 2000)
    n = 1000  # a multiple of the stride: its frame ends 15 samples later
    moved = mix.clone()
    moved[0, n + 15] += 1.0
    delta = (model.separate(mix) - model.separate(moved)).abs()
    delta = delta.amax(dim=(0, 2))  # [B, T, S] -> [T]
    assert delta[:n].eq(0).all()
    assert delta[n] > 0


def flashformer_definition(device: str = "cpu", **overrides) -> dict:
    """The shipped hparams/fsmn_flash.yaml, built on ``device``."""
    with torch.device(device):
        return MODELS["fsmn_flash"].load(overrides)


def separate_macs(hparams: dict, seconds: float, device: str) -> float:
    model = EncoderMaskerDecoder(
        *(hparams[k] for k in ("Encoder", "MaskNet", "Decoder"))
    ).eval()
    mix = torch.randn(1, int(8000 * seconds), device=device)
    return count_macs(functools.partial(model.separate, mix))


def test_flashformer_meta_device_counts_what_cpu_runs():
    """Shapes alone fix the MACs: counting on the meta device (no compute)
    gives the count of a real CPU run."""
    overrides = dict(N_encoder_out=32, num_layers=2, d_ffn=64, window_size=16)
    cpu = separate_macs(flashformer_definition(**overrides), 0.5, "cpu")
    meta = separate_macs(
        flashformer_definition("meta", **overrides), 0.5, "meta"
    )
    assert meta == cpu > 0


def test_flashformer_default_size_macs_and_linear_growth():
    """hparams/fsmn_flash.yaml: within 10% of RE-SepFormer's 6.3 GMACs per
    second of 8 kHz audio, and the same per second from 4 s to 256 s."""
    hparams = flashformer_definition("meta")
    params = sum(
        p.numel()
        for k in ("Encoder", "MaskNet", "Decoder")
        for p in hparams[k].parameters()
    )
    assert params == pytest.approx(6.2e6, rel=0.01)  # as documented
    per_second = {
        s: separate_macs(hparams, s, "meta") / s / 1e9 for s in (4, 16, 256)
    }
    assert per_second[4] == pytest.approx(6.3, rel=0.1)
    assert per_second[256] == pytest.approx(per_second[16], rel=0.01)


@pytest.mark.parametrize("recipe", ["WSJ0Mix", "WHAM"])
def test_flashformer_recipe_hparams_build_the_model_definition(
    recipe, tmp_path
):
    """recipes/*/hparams/fsmn_flash.yaml include hparams/fsmn_flash.yaml,
    and overrides reach the model (here: a causal model)."""
    path = ROOT / "recipes" / recipe / "hparams" / "fsmn_flash.yaml"
    overrides = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path),
        "model": {"causal": True},
    }
    with open(path) as f:
        hparams = load_hyperpyyaml(f, overrides)
    masknet = hparams["modules"]["masknet"]
    assert isinstance(masknet, FlashFormer) and masknet.causal
    assert hparams["experiment_name"].startswith("fsmn_flash")
    expected = flashformer_definition()["MaskNet"].state_dict()
    assert masknet.state_dict().keys() == expected.keys()
