"""The pretrained-folder format: what ``speechbrain.inference`` loads.

A pretrained folder holds ``hyperparams.yaml`` (``sample_rate``,
``num_spks``, the ``Encoder``, ``MaskNet`` and ``Decoder`` with every value
written out, ``modules`` and a ``pretrainer`` with the `LOADABLES`) and one
``<name>.ckpt`` state dict per loadable. `hyperparams_text` writes the YAML,
`load_pretrained_modules` loads a folder strictly.

Authors
 * sepformer-lobes contributors 2026
"""

import io
import re
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.tag import Tag

LOADABLES = ("encoder", "masknet", "decoder")

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


def round_trip_yaml() -> YAML:
    """Round-trip YAML (keeps HyperPyYAML tags, anchors and comments).

    Returns
    -------
    ruamel.yaml.YAML
        Indented by four, 80 columns wide.

    Example
    -------
    >>> node = round_trip_yaml().load("Encoder: !new:torch.nn.Identity")
    >>> node["Encoder"].tag.value
    '!new:torch.nn.Identity'
    """
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
