"""Pretrained folders exported by earlier code keep loading and separate
exactly as they did (tests/fixtures/exported_fc55930/README.md)."""

import shutil
from pathlib import Path

import pytest
import torch
from speechbrain.inference.separation import SepformerSeparation

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exported_fc55930"
FOLDERS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_model_definition_has_a_fixture():
    hparams = Path(__file__).resolve().parents[1] / "hparams"
    # resepformer_sb is SpeechBrain's own RE-SepFormer (added after
    # fc55930): its folders are SpeechBrain's format, not ours to keep
    assert {p.stem for p in hparams.glob("*.yaml")} - {"resepformer_sb"} <= set(
        FOLDERS
    )
    assert {"resepformer-causal", "fsmn_flash-causal"} <= set(FOLDERS)


@pytest.mark.parametrize("name", FOLDERS)
def test_folder_exported_before_loads_and_separates_as_then(name, tmp_path):
    folder = shutil.copytree(FIXTURES / name, tmp_path / name)  # read-only
    reference = torch.load(folder / "reference.pt", weights_only=True)
    model = SepformerSeparation.from_hparams(source=str(folder), savedir=None)
    torch.testing.assert_close(
        model.separate_batch(reference["mix"]),
        reference["sources"],
        atol=1e-6,
        rtol=1e-5,
    )
