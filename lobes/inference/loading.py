"""Loading a pretrained folder strictly, every fault in one line.

`load_pretrained_modules` builds the modules of a folder's
``hyperparams.yaml`` and loads their ``.ckpt`` files strictly (SpeechBrain's
Pretrainer only warns about missing or unexpected keys). Each fault raises a
one-line `PretrainedError` naming the file: bad YAML, a class that does not
exist, a wrong argument (`load_hyperparams`), a missing, truncated or
corrupt ``.ckpt`` (`read_state`), weights of another model size
(`state_mismatch`: how many tensors differ, and one of them).

Authors
 * sepformer-lobes contributors 2026
"""

import pydoc
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml
from ruamel.yaml.error import YAMLError

from lobes.errors import brief
from lobes.inference.pretrained import LOADABLES


class PretrainedError(ValueError):
    """A pretrained folder (or checkpoint) that cannot be loaded.

    Arguments
    ---------
    path : Path
        The file at fault.
    problem : str
        What is wrong with it.
    fix : str
        What to do.

    Example
    -------
    >>> str(PretrainedError(Path("m/x.ckpt"), "is empty", "Copy it again."))
    'm/x.ckpt is empty. Copy it again.'
    """

    def __init__(self, path: Path, problem: str, fix: str):
        super().__init__(f"{path} {problem}. {fix}")
        self.path, self.problem, self.fix = Path(path), problem, fix


REEXPORT = "export the model again (python -m lobes.export)."


def yaml_problem(error: YAMLError) -> str:
    """A YAML syntax error in one line, with its line number.

    Arguments
    ---------
    error : ruamel.yaml.error.YAMLError
        As the YAML parser raised it.

    Returns
    -------
    str

    Example
    -------
    >>> from ruamel.yaml import YAML
    >>> try:
    ...     YAML().load("a: [1\\nb: 2")
    ... except YAMLError as error:
    ...     print(yaml_problem(error))  # doctest: +NORMALIZE_WHITESPACE
    is not valid YAML (line 2: expected ',' or ']', but got ':', while
    parsing a flow sequence opened on line 1)
    """
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or brief(error)
    start = getattr(error, "context_mark", None)
    context = getattr(error, "context", None)
    if context and start is not None and start.line != getattr(mark, "line", 0):
        problem += f", {context} opened on line {start.line + 1}"
    return f"is not valid YAML ({where}{problem})"


def load_hyperparams(path: Path) -> dict:
    """Loads a ``hyperparams.yaml``; its faults (bad YAML, a class that does
    not exist, a wrong argument, a broken reference) raise one-line
    `PretrainedError`.

    Arguments
    ---------
    path : Path
        The YAML file.

    Returns
    -------
    dict

    Example
    -------
    >>> path = getfixture("tmp_path") / "hyperparams.yaml"
    >>> _ = path.write_text("a: !new:torch.nn.Linear\\n    in_featurez: 2")
    >>> load_hyperparams(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.inference.loading.PretrainedError: ...argument 'in_featurez'...
    """
    fix = f"Fix it, or {REEXPORT}"
    try:
        with open(path, encoding="utf-8") as f:
            return load_hyperpyyaml(f)
    except YAMLError as error:
        raise PretrainedError(path, yaml_problem(error), fix) from error
    except ImportError as error:
        raise PretrainedError(
            path, f"names a missing class: {error}", fix
        ) from error
    except pydoc.ErrorDuringImport as error:  # how HyperPyYAML imports
        if issubclass(error.exc, KeyboardInterrupt):
            raise KeyboardInterrupt from error
        raise PretrainedError(
            path,
            f"names a class whose module fails to import "
            f"({error.exc.__name__}: {error.value})",
            fix,
        ) from error
    except TypeError as error:
        if len(error.args) == 2 and "Invalid argument" in str(error.args[0]):
            target = str(error.args[0]).rsplit(" ", 1)[-1]
            problem = f"has a wrong argument for {target}: {error.args[1]}"
        else:
            problem = f"cannot be loaded ({brief(error)})"
        raise PretrainedError(path, problem, fix) from error
    except (ValueError, KeyError, AttributeError) as error:
        raise PretrainedError(
            path, f"cannot be loaded ({brief(error)})", fix
        ) from error


def read_state(path: Path) -> dict:
    """Reads a ``.ckpt`` state dict; a missing, truncated or corrupt file
    raises `PretrainedError` naming it.

    Arguments
    ---------
    path : Path
        The checkpoint file.

    Returns
    -------
    dict
        Name -> tensor, on the CPU.

    Example
    -------
    >>> path = getfixture("tmp_path") / "masknet.ckpt"
    >>> _ = path.write_bytes(b"PK")
    >>> read_state(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.inference.loading.PretrainedError: ...truncated or corrupt...
    """
    if not path.is_file():
        raise PretrainedError(
            path,
            "not found: a pretrained folder holds hyperparams.yaml and "
            f"{', '.join(f'{n}.ckpt' for n in LOADABLES)}",
            f"Copy the folder again, or {REEXPORT}",
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # OSError, EOFError, RuntimeError, pickle
        raise PretrainedError(
            path,
            f"cannot be read: truncated or corrupt ({brief(error)})",
            f"Copy it again, or {REEXPORT}",
        ) from error


def _shape(tensor: torch.Tensor) -> str:
    return str(list(tensor.shape))


def state_mismatch(module: torch.nn.Module, state: dict) -> str | None:
    """How a state dict fails to fit a module (one line), or None.

    Arguments
    ---------
    module : torch.nn.Module
        The module built from ``hyperparams.yaml``.
    state : dict
        The checkpoint's state dict.

    Returns
    -------
    str or None
        e.g. ``12 tensors differ in shape, e.g. head.weight [64, 32] vs
        [32, 16]``; the checkpoint's shape first.

    Example
    -------
    >>> state = torch.nn.Linear(3, 2).state_dict()
    >>> state_mismatch(torch.nn.Linear(4, 2), state)
    '1 tensor differs in shape, e.g. weight [2, 3] vs [2, 4]'
    """
    own = module.state_dict()
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    parts = []
    if shapes:
        k = shapes[0]
        verb = "differs" if len(shapes) == 1 else "differ"
        parts.append(
            f"{len(shapes)} tensor{'s' * (len(shapes) > 1)} {verb} in shape,"
            f" e.g. {k} {_shape(state[k])} vs {_shape(own[k])}"
        )
    for keys, what in ((missing, "missing"), (unexpected, "unexpected")):
        if keys:
            parts.append(f"{len(keys)} {what}, e.g. {keys[0]}")
    return "; ".join(parts) or None


def load_pretrained_modules(
    folder: str | Path, weights: str | Path | None = None
) -> tuple[dict, dict]:
    """Builds a pretrained folder's modules and loads their weights strictly
    (SpeechBrain's Pretrainer only warns about missing or unexpected keys).
    Every fault raises a one-line `PretrainedError` naming the file.

    Arguments
    ---------
    folder : str or Path
        Holds ``hyperparams.yaml`` and ``<name>.ckpt`` per loadable.
    weights : str or Path, optional
        Read the ``.ckpt`` files from this folder instead.

    Returns
    -------
    hparams : dict
        The loaded hyperparameters.
    modules : dict
        ``encoder``, ``masknet``, ``decoder`` with their weights, in eval
        mode.
    """
    folder = Path(folder)
    weights = folder if weights is None else Path(weights)
    yaml_path = folder / "hyperparams.yaml"
    hparams = load_hyperparams(yaml_path)
    modules = {}
    for name in LOADABLES:
        module = (hparams.get("modules") or {}).get(name)
        if not isinstance(module, torch.nn.Module):
            raise PretrainedError(
                yaml_path,
                f"has no modules: {name}: a pretrained folder's YAML lists "
                f"{', '.join(LOADABLES)} under modules",
                f"Fix it, or {REEXPORT}",
            )
        path = weights / f"{name}.ckpt"
        state = read_state(path)
        mismatch = state_mismatch(module, state)
        if mismatch:
            raise PretrainedError(
                path,
                f"does not match hyperparams.yaml: {mismatch}",
                "Use the hyperparams.yaml it was exported with (a model of "
                f"another size?), or {REEXPORT}",
            )
        module.load_state_dict(state, strict=True)
        modules[name] = module.eval()
    return hparams, modules
