"""Where each lobe goes in SpeechBrain, and the rewriting of our module
paths into SpeechBrain's.

Every ``lobes.<module>`` of `MODULES` (imports, docstrings, the scripts
tests run in subprocesses, ``!new:`` tags of hyperparameter files) becomes
``speechbrain.lobes.models.<name>``. The names are new to SpeechBrain's
``speechbrain/lobes/models/`` (``resepformer.py`` there is SpeechBrain's own
RE-SepFormer), and sort each lobe beside its relatives.
"""

import re

PACKAGE = "speechbrain.lobes.models"
# lobes.<ours> -> speechbrain.lobes.models.<theirs>
MODULES = {
    "attention": "fused_attention",
    "resepformer": "resepformer_fused",
    "resepformer_upstream": "resepformer_fused_conversion",
    "latent_xattn": "latent_sepformer",
    "fsmn_flash": "flashformer",
}
# the lobes with a test file of their own, tests/test_<module>.py
TESTED = ("attention", "resepformer", "latent_xattn", "fsmn_flash")

_LOBE_PATH = re.compile(rf"(?<![\w.])lobes\.({'|'.join(MODULES)})\b")
# what must not survive the rewriting: a lobes.<anything> path, an import
# of the lobes package, or the project's name
_PROJECT = re.compile(
    r"(?<![\w.-])lobes\.|\b(?:from|import)\s+lobes\b|sepformer-lobes"
)
# ... except in the Authors lines of a module docstring, kept as they are
_AUTHORS = re.compile(r"\s*\*\s+sepformer-lobes contributors \d{4}\s*")


def speechbrain_module(module: str) -> str:
    """The SpeechBrain module path of one of our lobe modules.

    Arguments
    ---------
    module : str
        A key of `MODULES`, e.g. ``"attention"``.

    Returns
    -------
    str
        E.g. ``"speechbrain.lobes.models.fused_attention"``.

    Example
    -------
    >>> speechbrain_module("fsmn_flash")
    'speechbrain.lobes.models.flashformer'
    """
    return f"{PACKAGE}.{MODULES[module]}"


def module_file(module: str) -> str:
    """Where a lobe module goes in a SpeechBrain checkout.

    Arguments
    ---------
    module : str
        A key of `MODULES`.

    Returns
    -------
    str
        A path relative to the checkout's root.

    Example
    -------
    >>> module_file("latent_xattn")
    'speechbrain/lobes/models/latent_sepformer.py'
    """
    return f"{PACKAGE.replace('.', '/')}/{MODULES[module]}.py"


def unit_test_file(module: str) -> str:
    """Where the unit tests of a lobe module go in a SpeechBrain checkout.

    Arguments
    ---------
    module : str
        A key of `MODULES` (of `TESTED`).

    Returns
    -------
    str
        A path relative to the checkout's root.

    Example
    -------
    >>> unit_test_file("attention")
    'tests/unittests/test_fused_attention.py'
    """
    return f"tests/unittests/test_{MODULES[module]}.py"


def rewrite(text: str) -> str:
    """``text`` with every ``lobes.<module>`` path of `MODULES` rewritten to
    its SpeechBrain path.

    Arguments
    ---------
    text : str
        Python source or a hyperparameter file.

    Returns
    -------
    str
        The rewritten text (``speechbrain.lobes.models.*`` paths that are
        already there are left alone).

    Example
    -------
    >>> rewrite("from lobes.attention import attend")
    'from speechbrain.lobes.models.fused_attention import attend'
    >>> rewrite("!new:lobes.fsmn_flash.FlashFormer")
    '!new:speechbrain.lobes.models.flashformer.FlashFormer'
    >>> rewrite("speechbrain.lobes.models.resepformer.X")  # SpeechBrain's
    'speechbrain.lobes.models.resepformer.X'
    """
    return _LOBE_PATH.sub(lambda m: speechbrain_module(m.group(1)), text)


def project_references(text: str) -> list[str]:
    """The lines of ``text`` that still refer to this project: a
    ``lobes.<module>`` path, an import of ``lobes``, or its name, except in
    ``Authors`` lines (" * sepformer-lobes contributors <year>"), which are
    kept as they are.

    Arguments
    ---------
    text : str
        A written file.

    Returns
    -------
    list of str
        The offending lines ([] when there are none).

    Example
    -------
    >>> text = "import lobes.model\\n * sepformer-lobes contributors 2026"
    >>> project_references(text)
    ['import lobes.model']
    >>> project_references("the lobes share; speechbrain.lobes.models.x")
    []
    """
    return [
        line
        for line in text.splitlines()
        if _PROJECT.search(line) and not _AUTHORS.fullmatch(line)
    ]
