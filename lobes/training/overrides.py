"""Command-line overrides checked against the recipe before anything runs.

HyperPyYAML refuses an unknown top-level key, but inside a nested override
it merges what it is given: ``--model="{chunk_sise: 100}"`` is passed to
the model definition's include as an unused key, and the run trains the
default model. `check_overrides` walks every nested override down the
recipe's tree, through ``!include`` files and into the arguments of
``!new:`` / ``!name:`` objects, and refuses a key that is not there.

It refuses too, in one line naming the option, what would otherwise end
in a traceback, perhaps after an epoch, or do the wrong thing: overrides
that are not YAML or give an option twice, a required option (a
``!PLACEHOLDER``) left out, a plain value for a mapping or an object
(``--model=5``), and a value of the wrong type or range for an option
of `lobes.training.options.OPTIONS`, at any depth (``--N_epochs=abc``,
``--lr=-1``, ``--dataloader_opts={batch_size: 0}``,
``--model={chunk_size: 0}``).
Yes/no options take YAML's True or False only: ``--dynamic_mixing=no``
is the string "no", which Python takes as true. What the options allow
together (``nhead`` dividing ``N_encoder_out``) the model's classes check
when HyperPyYAML builds them: `model_error` turns their error into one
line naming ``--model``.

Authors
 * sepformer-lobes contributors 2026
"""

import difflib
import importlib
import inspect
import re
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from lobes.training.errors import UsageError
from lobes.training.options import OPTIONS

# plain mappings passed as keyword arguments: open to every argument of
LOADER_OPTIONS = ("dataloader_opts", "eval_dataloader_opts")
LOADER_KEYS = frozenset(
    [*inspect.signature(torch.utils.data.DataLoader).parameters]
    + ["looped_nominal_epoch", "ckpt_prefix"]  # SpeechBrain's extras
) - {"dataset"}
OBJECT_TAGS = ("!new:", "!name:", "!apply:")
LISTED_KEYS = 12  # a message lists the valid keys when there are no more
MODEL = "model"  # the recipes' key of the model definition's include
# what a model's classes raise for options that do not go together
MODEL_ERRORS = (ValueError, TypeError, ZeroDivisionError, AssertionError)


class OverrideError(UsageError):
    """An override the recipe cannot run with."""


def check_overrides(hparams_file: str | Path, overrides: str | None) -> dict:
    """Raises `OverrideError` for the first override that the recipe cannot
    run with: overrides that are not YAML or give an option twice, a key
    the hyperparameters do not have (at any depth), a required option
    left out, a plain value for a mapping, or a value that an option of
    `lobes.training.options.OPTIONS` does not take.

    Arguments
    ---------
    hparams_file : str or Path
        The recipe's YAML.
    overrides : str, optional
        The overrides as ``speechbrain.parse_arguments`` returns them (a
        YAML mapping).

    Returns
    -------
    dict
        The top-level overrides as YAML reads them, without those with a
        tag (``!ref``: HyperPyYAML resolves them).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "model.yaml").write_text("size: 1\\nlayers: 2\\n")
    >>> recipe = folder / "train.yaml"
    >>> _ = recipe.write_text("lr: 0.1\\nmodel: !include:model.yaml\\n")
    >>> check_overrides(recipe, "model: {size: 4}")
    {'model': {'size': 4}}
    >>> check_overrides(recipe, "model: {sise: 4}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: --model: unknown key 'sise' ...
    >>> check_overrides(recipe, "lr_: 4")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: ...--lr_ ... Did you mean --lr? ...
    >>> check_overrides(recipe, "lr: -1")
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: --lr=-1: expected a number > 0.
    >>> check_overrides(recipe, "model: 5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: --model=5: expected a mapping ...
    >>> check_overrides(recipe, "lr: 1\\nlr: 2")
    Traceback (most recent call last):
    lobes.training.overrides.OverrideError: --lr is given twice: give it once.
    """
    yaml = YAML()
    try:
        given = yaml.load(overrides or "") or {}
    except MarkedYAMLError as error:
        raise OverrideError(_not_yaml(overrides or "", error)) from error
    if not isinstance(given, Mapping):
        raise OverrideError(f"overrides must be key: value pairs: {given!r}")
    hparams_file = Path(hparams_file)
    tree = _load(hparams_file)
    for key, node in tree.items():
        if _tag(node) == "!PLACEHOLDER" and key not in given:
            raise OverrideError(
                f"--{key} is required ({hparams_file} has no default for "
                f"it): pass --{key}=<value>."
            )
    _check(tree, given, [], hparams_file, hparams_file.parent)
    return {key: value for key, value in given.items() if not _tag(value)}


def model_error(
    error: BaseException, hparams_file: str | Path, given: Mapping
) -> OverrideError | None:
    """The one-line error for ``error`` (one of `MODEL_ERRORS`) when the
    model's classes raised it while HyperPyYAML built them from the
    model's options (``--model``), e.g. ``nhead`` not dividing
    ``N_encoder_out``; None when it was raised elsewhere (not an option's
    fault: the recipe lets it through).

    Arguments
    ---------
    error : BaseException
        What loading the hyperparameters raised.
    hparams_file : str or Path
        The recipe's YAML (its ``model`` includes the model's).
    given : Mapping
        The overrides (`check_overrides`).

    Returns
    -------
    OverrideError or None

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "net.yaml").write_text(
    ...     "p: 0.1\\nnet: !new:torch.nn.Dropout\\n    p: !ref <p>\\n")
    >>> recipe = folder / "train.yaml"
    >>> _ = recipe.write_text("model: !include:net.yaml\\n    p: 0.5\\n")
    >>> with open(recipe) as f:
    ...     try:
    ...         load_hyperpyyaml(f, "model: {p: 2}")
    ...     except ValueError as raised:
    ...         error = raised
    >>> print(model_error(error, recipe, {"model": {"p": 2}}))
    ... # doctest: +ELLIPSIS
    --model={p: 2}: the model cannot be built: dropout probability has to ...
    >>> model_error(ValueError("not the model"), recipe, {}) is None
    True
    """
    hparams_file = Path(hparams_file)
    node = _load(hparams_file).get(MODEL)
    node, source, _ = _resolve_include(node, hparams_file, hparams_file.parent)
    modules = {
        _import(_tag(n).split(":", 1)[1]).__module__
        for n in _nodes(node)
        if _tag(n).startswith("!new:")
    }
    frames = traceback.walk_tb(error.__traceback__)
    if not any(f.f_globals.get("__name__") in modules for f, _ in frames):
        return None
    text = " ".join(": ".join(map(str, error.args)).split()).rstrip(".")
    where = "The model"
    if MODEL in given:
        where = f"--{MODEL}={_shown(given[MODEL])}: the model"
    return OverrideError(
        f"{where} cannot be built: {text or type(error).__name__}. Change "
        f"its options (those of {source}) with --{MODEL}={{...}}."
    )


def _not_yaml(overrides: str, error: MarkedYAMLError) -> str:
    """The message for overrides that YAML cannot read: the option given
    twice, or the option whose value is not YAML."""
    duplicate = isinstance(error, DuplicateKeyError)
    mark = error.problem_mark if duplicate else error.context_mark
    mark = mark or error.problem_mark
    lines = overrides.splitlines()[: mark.line + 1] if mark else []
    options = [re.match(r"([^\s:]+):\s?(.*)", line) for line in lines]
    option = next((m for m in reversed(options) if m), None)
    if option is None:
        return f"The overrides are not YAML ({error.problem})."
    key, value = option.groups()
    if duplicate:
        return f"--{key} is given twice: give it once."
    return (
        f"--{key}={value}: not YAML ({error.problem}): write the value as "
        'YAML, in quotes for the shell, e.g. "--model={causal: True}".'
    )


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
        if _tag(value):  # !ref, !new:...: HyperPyYAML checks them
            continue
        child = node.get(key) if isinstance(node, Mapping) else None
        nested = isinstance(child, Mapping) or _tag(child).startswith(
            "!include:"
        )
        expected = _expected(key, value, nested)
        if expected is not None:
            option = _option(path, key, value)
            raise OverrideError(f"{option}: expected {expected}.")
        if nested:
            _check(child, value, [*path, key], source, folder)


def _expected(key: object, value: object, nested: bool) -> str | None:
    """What the value of ``key`` must be, when ``value`` is not that (a
    mapping for a ``nested`` one, else as `OPTIONS` says); None: fine."""
    if nested:
        return (
            None
            if isinstance(value, Mapping)
            else "a mapping such as {key: value, ...}"
        )
    expected = OPTIONS.get(str(key))
    if expected is None or expected.accepts(value):
        return None
    return expected.what


def _option(path: list, key: object, value: object) -> str:
    """An override as a message names it: ``--N_epochs=abc``, or
    ``--dataloader_opts: batch_size=0`` at depth."""
    if not path:
        return f"--{key}={_shown(value)}"
    return (
        f"--{path[0]}: {'.'.join(map(str, [*path[1:], key]))}={_shown(value)}"
    )


def _shown(value: object) -> str:
    """A value as it is written on a command line."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        items = (f"{k}: {_shown(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_shown, value)) + "]"
    return str(value)


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
    tree = _load(included)
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


def _load(path: Path) -> Mapping:
    """A YAML file's tree, tags kept (``{}`` for an empty file)."""
    with open(path, encoding="utf-8") as f:
        return YAML().load(f) or {}


def _nodes(node: object) -> Iterator[object]:
    """``node`` and every node under it."""
    yield node
    if isinstance(node, Mapping | list):
        for child in node.values() if isinstance(node, Mapping) else node:
            yield from _nodes(child)
