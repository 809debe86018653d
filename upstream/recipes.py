"""SpeechBrain recipe files of the lobes: one hyperparameter file per masknet
for SpeechBrain's ``recipes/WSJ0Mix/separation/hparams/``, and the rows
that list them in its ``tests/recipes/WSJ0Mix.csv``.

Each file is SpeechBrain's own ``resepformer.yaml`` (``TEMPLATE``: the keys
its ``train.py`` reads) with the masknet of our model definition
``hparams/<model>.yaml`` written inline: the masknet's hyperparameters and
its ``MaskNet`` entry, with our module paths rewritten (`rewrite`), and the
encoder size of the definition.
"""

import csv
import io
from pathlib import Path
from string import Template

from hparams import MODELS, ModelDefinition
from upstream.rename import rewrite, speechbrain_module

FOLDER = Path(__file__).resolve().parent / "speechbrain"
TEMPLATE = FOLDER / "recipe_template.yaml"
CSV_ROW = FOLDER / "WSJ0Mix.csv"  # header + SpeechBrain's resepformer row
RECIPE = "recipes/WSJ0Mix/separation"
# entries of a definition that the template has already: the sizes it
# takes from the definition, and the blocks it defines itself
ENCODER_SIZES = ("N_encoder_out", "kernel_size", "kernel_stride")
TEMPLATE_KEYS = ("num_spks", *ENCODER_SIZES, "Encoder", "Decoder", "modules")


def top_level_entries(text: str) -> dict[str, str]:
    """The top-level entries of a YAML text, comments between them left out.

    Arguments
    ---------
    text : str
        A hyperparameter file.

    Returns
    -------
    dict
        key -> its lines (the key's line and the indented ones after it).

    Example
    -------
    >>> text = "# head\\nN: 4  # width\\n\\nNet: !new:x.Y\\n    n: !ref <N>\\n"
    >>> top_level_entries(text)
    {'N': 'N: 4  # width', 'Net': 'Net: !new:x.Y\\n    n: !ref <N>'}
    """
    entries: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        if line[:1].isspace() and key is not None:
            entries[key].append(line)
        elif line and not line.startswith("#") and not line[0].isspace():
            key = line.split(":", 1)[0]
            entries[key] = [line]
    return {k: "\n".join(lines).rstrip() for k, lines in entries.items()}


def masknet_entries(entries: dict[str, str]) -> str:
    """The masknet's part of a model definition, as recipe text: its
    hyperparameters, then its blocks (``MaskNet``), paths rewritten.

    Arguments
    ---------
    entries : dict
        `top_level_entries` of ``hparams/<model>.yaml``.

    Returns
    -------
    str
        YAML text.

    Example
    -------
    >>> text = "N: 4\\nd: 8\\nNet: !new:lobes.attention.X\\n    n: !ref <d>\\n"
    >>> print(masknet_entries(top_level_entries(text)))
    N: 4
    d: 8
    <BLANKLINE>
    Net: !new:speechbrain.lobes.models.fused_attention.X
        n: !ref <d>
    """
    own = [v for k, v in entries.items() if k not in TEMPLATE_KEYS]
    scalars = [v for v in own if "\n" not in v]
    blocks = [v for v in own if "\n" in v]
    return rewrite("\n\n".join(["\n".join(scalars), *blocks]))


def recipe_name(model: ModelDefinition) -> str:
    """The recipe file's name: the masknet's SpeechBrain module, with
    hyphens as SpeechBrain's ``sepformer-conformerintra.yaml``.

    Arguments
    ---------
    model : ModelDefinition
        One of our models.

    Returns
    -------
    str
        E.g. ``"resepformer-fused.yaml"``.

    Example
    -------
    >>> recipe_name(MODELS["latent_xattn"])
    'latent-sepformer.yaml'
    """
    module = speechbrain_module(model.masknet.__module__.split(".", 1)[1])
    return module.rsplit(".", 1)[1].replace("_", "-") + ".yaml"


def recipe_text(model: ModelDefinition) -> str:
    """The recipe hyperparameter file of one of our models.

    Arguments
    ---------
    model : ModelDefinition
        One of our models (`hparams.MODELS`).

    Returns
    -------
    str
        YAML text for SpeechBrain's WSJ0Mix separation recipe.

    Example
    -------
    >>> text = recipe_text(MODELS["fsmn_flash"])
    >>> "MaskNet: !new:speechbrain.lobes.models.flashformer.FlashFormer" in text
    True
    """
    entries = top_level_entries(model.path.read_text(encoding="utf-8"))
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines(keepends=True)
    template = "".join(line for line in lines if not line.startswith("#%"))
    values = {k: entries[k].split(":", 1)[1].strip() for k in ENCODER_SIZES}
    return Template(template).substitute(
        values,
        title=model.title,
        masknet_class=rewrite(
            f"{model.masknet.__module__}.{model.masknet.__name__}"
        ),
        experiment_name=recipe_name(model).removesuffix(".yaml"),
        masknet=masknet_entries(entries),
    )


def recipe_files() -> dict[str, str]:
    """Every recipe file, by its path in a SpeechBrain checkout.

    Returns
    -------
    dict
        path -> text, one file per masknet of ours (`hparams.MODELS`).

    Example
    -------
    >>> [path.rsplit("/", 1)[1] for path in recipe_files()]
    ['resepformer-fused.yaml', 'latent-sepformer.yaml', 'flashformer.yaml']
    """
    return {
        f"{RECIPE}/hparams/{recipe_name(model)}": recipe_text(model)
        for model in MODELS.values()
        if not model.upstream
    }


def recipe_test_rows(paths: list[str]) -> str:
    """Rows of SpeechBrain's ``tests/recipes/WSJ0Mix.csv`` for recipe files:
    those of its ``resepformer.yaml``, without results, URLs or models.

    Arguments
    ---------
    paths : list of str
        Recipe files (paths in a SpeechBrain checkout).

    Returns
    -------
    str
        CSV rows, no header.

    Example
    -------
    >>> row = recipe_test_rows([f"{RECIPE}/hparams/flashformer.yaml"])
    >>> row.split(",")[3]
    'recipes/WSJ0Mix/separation/hparams/flashformer.yaml'
    """
    with open(CSV_ROW, newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(row), lineterminator="\n")
    for path in paths:
        empty = dict.fromkeys(("Result_url", "HF_repo", "performance"), "")
        writer.writerow(row | empty | {"Hparam_file": path})
    return text.getvalue()
