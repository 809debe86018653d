"""Command-line overrides checked against the recipe before anything runs.

HyperPyYAML refuses an unknown top-level key, but inside a nested override
it merges what it is given: ``--model="{chunk_sise: 100}"`` is passed to
the model definition's include as an unused key, and the run trains the
default model. `check_overrides` walks every nested override down the
recipe's tree, through ``!include`` files and into the arguments of
``!new:`` / ``!name:`` objects, and refuses a key that is not there.

Authors
 * sepformer-lobes contributors 2026
"""

import difflib
import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path

import torch
from ruamel.yaml import YAML

from lobes.training.errors import UsageError

# plain mappings passed as keyword arguments: open to every argument of
LOADER_OPTIONS = ("dataloader_opts", "eval_dataloader_opts")
LOADER_KEYS = frozenset(
    [*inspect.signature(torch.utils.data.DataLoader).parameters]
    + ["looped_nominal_epoch", "ckpt_prefix"]  # SpeechBrain's extras
) - {"dataset"}
OBJECT_TAGS = ("!new:", "!name:", "!apply:")
LISTED_KEYS = 12  # a message lists the valid keys when there are no more


class OverrideError(UsageError):
    """An override names a key the recipe does not have."""


def check_overrides(hparams_file: str | Path, overrides: str | None) -> None:
    """Raises `OverrideError` for the first override key, at any depth,
    that the hyperparameters do not have.

    Arguments
    ---------
    hparams_file : str or Path
        The recipe's YAML.
    overrides : str, optional
        The overrides as ``speechbrain.parse_arguments`` returns them (a
        YAML mapping).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "model.yaml").write_text("size: 1\\nlayers: 2\\n")
    >>> recipe = folder / "train.yaml"
    >>> _ = recipe.write_text("lr: 0.1\\nmodel: !include:model.yaml\\n")
    >>> check_overrides(recipe, "model: {size: 4}")
    >>> check_overrides(recipe, "model: {sise: 4}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: --model: unknown key 'sise' ...
    >>> check_overrides(recipe, "lr_: 4")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: ...--lr_ ... Did you mean --lr? ...
    """
    yaml = YAML()
    given = yaml.load(overrides or "") or {}
    if not isinstance(given, Mapping):
        raise OverrideError(f"overrides must be key: value pairs: {given!r}")
    hparams_file = Path(hparams_file)
    with open(hparams_file, encoding="utf-8") as f:
        tree = yaml.load(f)
    _check(tree, given, [], hparams_file, hparams_file.parent)


def _check(
    node: object, given: Mapping, path: list, source: Path, folder: Path
) -> None:
    """Checks ``given`` against ``node`` (read from ``source``, whose
    includes are relative to ``folder``), recursing into mappings."""
    node, source, folder = _resolve_include(node, source, folder)
    valid = _valid_keys(node, path)
    for key, value in given.items():
        if valid is not None and key not in valid:
            raise OverrideError(_unknown(key, valid, path, source))
        child = node.get(key) if isinstance(node, Mapping) else None
        nested = isinstance(child, Mapping) or _tag(child).startswith(
            "!include:"
        )
        if isinstance(value, Mapping) and nested:
            _check(child, value, [*path, key], source, folder)


def _unknown(key: object, valid: set, path: list, source: Path) -> str:
    """The message for an unknown key: the keys it is close to, and all
    the valid ones when they are few."""
    where = "--" + ".".join(map(str, path)) if path else "Override"
    spell = repr if path else (lambda k: f"--{k}")
    names = sorted(map(str, valid))
    close = difflib.get_close_matches(str(key), names, n=3, cutoff=0.6)
    message = f"{where}: unknown key {spell(key)} (not in {source})."
    if close:
        message += f" Did you mean {' or '.join(map(spell, close))}?"
    if len(names) <= LISTED_KEYS:
        message += f" Valid keys: {', '.join(names)}."
    else:
        message += f" The {len(names)} valid keys are those of {source}."
    return message + " Check the spelling."


def _resolve_include(
    node: object, source: Path, folder: Path
) -> tuple[Mapping, Path, Path]:
    """An ``!include:FILE`` node as FILE's tree plus the include's own
    keys (its overrides, when it has some); any other node as it is."""
    tag = _tag(node)
    if not tag.startswith("!include:"):
        return node, source, folder
    included = (folder / tag.removeprefix("!include:")).resolve()
    with open(included, encoding="utf-8") as f:
        tree = YAML().load(f) or {}
    own = node if isinstance(node, Mapping) else {}
    return {**tree, **own}, included, included.parent


def _valid_keys(node: Mapping, path: list) -> set | None:
    """Keys an override of ``node`` may set; None: any (``**kwargs``)."""
    tag = _tag(node)
    if tag.startswith(OBJECT_TAGS):
        target = _import(tag.split(":", 1)[1])
        try:
            parameters = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):  # no signature to read
            return None
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return None
        return {p.name for p in parameters} | set(node)
    if path and path[-1] in LOADER_OPTIONS:
        return LOADER_KEYS | set(node)
    return set(node)


def _tag(node: object) -> str:
    """The YAML tag of a round-trip node ('' when untagged)."""
    tag = getattr(node, "tag", None)
    return (getattr(tag, "value", None) or "") if tag is not None else ""


def _import(target: str) -> object:
    """The object a ``!new:`` tag names, e.g. ``torch.nn.Linear``."""
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)
