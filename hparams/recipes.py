"""Writes every recipe's hyperparameter files from one template.

``recipes/<corpus>/hparams/<model>.yaml`` exists for every corpus of
`CORPORA` and every model of the registry; the files differ only in what
the corpus and the model name, so they are all written from
``recipes/template.yaml``::

    python -m hparams.recipes           # (re)write them
    python -m hparams.recipes --check   # exit 1 if any file differs

``make lint`` (so ``make test``) runs the check: the files cannot drift
apart.
"""

import argparse
import sys
from pathlib import Path
from string import Template

from hparams import FOLDER, MODELS, ModelDefinition
from lobes.corpus.layouts import LAYOUTS
from lobes.files import write_text

RECIPES = FOLDER.parent / "recipes"
TEMPLATE = RECIPES / "template.yaml"
WSJ0_DM = (
    "# Clean utterances for dynamic mixing (WSJ0 si_tr_s at sample_rate, "
    "speaker\n# id = first 3 characters of each file name); only read if "
    "dynamic_mixing"
)
WSJ0_SPLITS = dict(
    splits="tr,cv,tt",
    train_split="tr",
    valid_split="cv",
    test_split="tt",
    real_test_split=LAYOUTS["wsj0-2mix"].real_test,
    base_folder_dm="/yourpath/wsj0-processed/si_tr_s/",
    corpus_options="",
)
CORPORA = {
    "WSJ0Mix": dict(
        WSJ0_SPLITS,
        task="speech separation on WSJ0-2Mix (WSJ0-3Mix with --num_spks=3)",
        example_folder="/data/wsj0-2mix",
        upstream_recipe="recipes/WSJ0Mix/separation",
        signals="mix,s1,s2",
        dm_comment=WSJ0_DM + ".",
        experiment_suffix="",
        csv_prefix="wsj",
        dont_halve_until_epoch=85,
    ),
    "WHAM": dict(
        WSJ0_SPLITS,
        task="speech separation in noise on WHAM! (targets: the clean sources)",
        example_folder="/data/wham_original",
        upstream_recipe="recipes/WHAMandWHAMR/separation",
        signals="mix_both,s1,s2,noise",
        dm_comment=WSJ0_DM
        + ",\n# which takes its noise from wav8k/min/tr/noise.",
        experiment_suffix="-wham",
        csv_prefix="whamorg",
        dont_halve_until_epoch=65,
    ),
    "LibriMix": dict(
        task="speech separation on Libri2Mix (Libri3Mix with --num_spks=3)",
        example_folder="/data/Libri2Mix",
        upstream_recipe="recipes/LibriMix/separation",
        splits="train-360,dev,test",
        train_split="train-360",
        valid_split="dev",
        test_split="test",
        real_test_split=LAYOUTS["librimix"].real_test,
        signals="mix_clean,mix_both,s1,s2,noise",
        dm_comment="# Clean utterances for dynamic mixing (LibriSpeech "
        "train-clean-360 at\n# sample_rate; speaker id = the folder two "
        "levels up, <spk>/<chapter>/...);\n# only read if dynamic_mixing, "
        "which takes its noise from\n# wav8k/min/train-360/noise when "
        "use_wham_noise.",
        base_folder_dm="/yourpath/LibriSpeech/train-clean-360/",
        experiment_suffix="-librimix",
        csv_prefix="libri<num_spks>mix",
        corpus_options="\n# True: noisy mixtures (mix_both, with the noise "
        "as a signal of its own, so\n# that perturbed sources are remixed "
        "with it); the targets stay the clean\n# sources\n"
        "use_wham_noise: False",
        dont_halve_until_epoch=85,
    ),
}


def recipe_text(corpus: str, model: ModelDefinition) -> str:
    """The text of ``recipes/<corpus>/hparams/<model.name>.yaml``.

    Arguments
    ---------
    corpus : str
        A key of `CORPORA`.
    model : ModelDefinition
        The model.

    Returns
    -------
    str

    Example
    -------
    >>> text = recipe_text("WHAM", MODELS["fsmn_flash"])
    >>> "model: !include:../../../hparams/fsmn_flash.yaml" in text
    True
    >>> "experiment_name: fsmn_flash-wham" in text
    True
    """
    values = dict(CORPORA[corpus])
    suffix = values.pop("experiment_suffix")
    values.update(
        name=model.name,
        title=model.title,
        experiment_name=model.name + suffix,
    )
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def recipe_files() -> dict[Path, str]:
    """Every recipe file and the text it must have."""
    return {
        RECIPES / corpus / "hparams" / f"{name}.yaml": recipe_text(corpus, m)
        for corpus in CORPORA
        for name, m in MODELS.items()
    }


def stale_files() -> list[Path]:
    """Recipe files that differ from the template, are missing, or have
    no model (a YAML in a recipe's hparams/ that the registry lacks)."""
    wanted = recipe_files()
    stale = [
        path
        for path, text in wanted.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    present = {p for c in CORPORA for p in (RECIPES / c / "hparams").glob("*")}
    return stale + sorted(present - set(wanted))


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m hparams.recipes",
        description="Write recipes/*/hparams/*.yaml from recipes/template.yaml",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check: exit 1 if a file would change",
    )
    args = parser.parse_args(argv)
    stale = stale_files()
    if args.check:
        for path in stale:
            print(
                f"{path.relative_to(RECIPES.parent)} differs from "
                "recipes/template.yaml: run `python -m hparams.recipes` "
                "(or remove it, if it is no model of hparams/)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path, text in recipe_files().items():
        if path in stale:
            write_text(path, text)
            print(f"wrote {path.relative_to(RECIPES.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
