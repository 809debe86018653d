"""The model registry (hparams/__init__.py), the masknet contract every
model declares (lobes.model.capabilities) and the recipe files written
from one template (hparams/recipes.py)."""

import functools
import re
import shutil

import pytest
import torch

import hparams.recipes as recipes
from hparams import FOLDER, MODELS, model_option
from lobes.attention import count_macs
from lobes.model import capabilities
from lobes.resepformer_upstream import upstream_module_config

pytestmark = pytest.mark.usefixtures("one_thread")

# what each masknet declares: linear in length, streams when causal
CONTRACT = {
    "resepformer": (True, True),
    "latent_xattn": (True, False),
    "fsmn_flash": (True, True),
    "sepformer": (False, False),
    "resepformer_sb": (False, False),
}


def test_every_model_definition_is_registered():
    assert sorted(p.stem for p in FOLDER.glob("*.yaml")) == sorted(MODELS)
    assert set(CONTRACT) == set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_definition_builds_the_registered_class_at_every_size(name):
    entry = MODELS[name]
    assert entry.path.is_file()
    for sizes in ({}, entry.tiny, entry.small):
        with torch.device("meta"):
            model = entry.build(sizes)
        assert type(model.masknet) is entry.masknet
        assert entry.label == type(model.masknet).__name__
    model = entry.build(entry.tiny).eval()
    mix = torch.randn(2, 1234)
    sources = model.separate(mix)
    assert sources.shape == (2, 1234, 2)
    torch.testing.assert_close(sources, model(mix), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_masknets_declare_what_they_can_do(name):
    linear, streams = CONTRACT[name]
    entry = MODELS[name]
    offline = capabilities(entry.build(entry.tiny).masknet)
    assert offline.linear_in_length == linear
    assert not offline.streams and offline.stream_frames is None
    if "causal" in entry.load():
        causal = capabilities(
            entry.build(entry.tiny | {"causal": True}).masknet
        )
        assert causal.streams == streams
        assert (causal.stream_frames is not None) == streams


def test_small_sizes_are_of_nearly_equal_compute():
    """The demo and the quality benchmark compare models at their small
    sizes: about 0.3 GMACs per second of 8 kHz audio each."""
    gmacs = {}
    for name, entry in MODELS.items():
        with torch.device("meta"):
            model = entry.build(entry.small)
            mix = torch.empty(1, 4 * 8000)
        macs = count_macs(functools.partial(model.separate, mix))
        gmacs[name] = macs / 4 / 1e9
    assert max(gmacs.values()) / min(gmacs.values()) < 1.25, gmacs
    assert all(0.2 < g < 0.4 for g in gmacs.values()), gmacs


def test_upstream_resepformer_is_ours_at_every_size():
    """resepformer_sb is the ResourceEfficientSeparator of SpeechBrain's
    recipe (mem_type av, wnormandskip blocks: what converts to ours), and
    each size of it is the RESepFormer of resepformer's same size, so
    that the two train at equal budget."""
    upstream, ours = MODELS["resepformer_sb"], MODELS["resepformer"]
    assert upstream.upstream and not ours.upstream
    assert (upstream.tiny, upstream.small) == (ours.tiny, ours.small)
    for sizes in ({}, ours.tiny, ours.small):
        with torch.device("meta"):
            theirs = upstream.build(sizes)
            mine = ours.build(sizes)
            hparams = ours.load(sizes)
        assert upstream_module_config(theirs.masknet) == dict(
            in_channels=hparams["N_encoder_out"],
            num_spks=hparams["num_spks"],
            chunk_size=hparams["chunk_size"],
            intra_layers=hparams["intra_layers"],
            memory_layers=hparams["memory_layers"],
            nhead=hparams["nhead"],
            intra_d_ffn=hparams["d_ffn"],
            memory_d_ffn=hparams["d_ffn"],
            causal=hparams["causal"],
            dropout=hparams["dropout"],
        )
        shapes = [
            {k: v.shape for k, v in m.state_dict().items()}
            for m in (
                theirs.encoder,
                mine.encoder,
                theirs.decoder,
                mine.decoder,
            )
        ]
        assert shapes[0] == shapes[1] and shapes[2] == shapes[3]
        params = [
            sum(p.numel() for p in m.parameters()) for m in (theirs, mine)
        ]
        assert params[0] == params[1], sizes


def test_model_option_is_the_flow_mapping_the_recipes_take():
    text = model_option({"N_encoder_out": 16, "causal": False})
    assert text == "{N_encoder_out: 16, causal: False}"


def test_recipe_files_are_written_from_the_template():
    assert recipes.stale_files() == []
    for corpus in recipes.CORPORA:
        folder = recipes.RECIPES / corpus / "hparams"
        assert sorted(p.stem for p in folder.glob("*.yaml")) == sorted(MODELS)


def test_a_drifted_recipe_file_is_found(tmp_path, monkeypatch, capsys):
    copy = shutil.copytree(recipes.RECIPES, tmp_path / "recipes")
    monkeypatch.setattr(recipes, "RECIPES", copy)
    assert recipes.main(["--check"]) == 0
    edited = copy / "WHAM" / "hparams" / "sepformer.yaml"
    edited.write_text(edited.read_text().replace("lr: 0.00015", "lr: 0.001"))
    (copy / "WSJ0Mix" / "hparams" / "orphan.yaml").write_text("seed: 1\n")
    assert recipes.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "recipes/WHAM/hparams/sepformer.yaml differs" in err
    assert "orphan.yaml" in err
    assert recipes.main([]) == 0  # rewrites the edited file ...
    assert recipes.stale_files() == [copy / "WSJ0Mix/hparams/orphan.yaml"]


COST = re.compile(
    r"# tests/test_registry.py\): ([\d.]+) GMACs per second of audio at "
    r"8 kHz,\n# ([\d.]+) at 16 kHz"
)


@pytest.mark.parametrize("name", MODELS)
def test_definitions_state_their_cost_at_8_and_16_khz(name):
    """Each definition's header states its GMACs per second of audio at
    8 and 16 kHz (encoder, masknet, decoder on 4 s): they are the count."""
    stated = COST.search(MODELS[name].path.read_text())
    assert stated, f"hparams/{name}.yaml states no cost"
    for rate, text in zip((8000, 16000), stated.groups(), strict=True):
        with torch.device("meta"):
            model = MODELS[name].build()
            mix = torch.empty(1, 4 * rate)
        macs = count_macs(functools.partial(model.separate, mix))
        assert float(text) == pytest.approx(macs / 4 / 1e9, abs=0.006), rate
