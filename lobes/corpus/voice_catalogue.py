"""The real voices of the embedded corpus: pinned Debian packages of
recorded speech, the voices in them, and the split each voice serves.

Each package is pinned to exact versions and the SHA-256 of their ``.deb``
files (Debian 12 "bookworm" first, then Debian 13 "trixie"; the audio
files of both versions are identical, checked file by file). Each voice is
one person, whose recordings are found by a glob in the unpacked package
(and, where one package holds several people, a pattern on the file
name), and serves one role only:

- ``tr``: training and dynamic mixing (``clean/tr``);
- ``cv``: validation;
- ``tt``: the real-speech test split (``tt_real``).

So no voice of the validation or test splits is ever heard in training.
The three test voices give three pairs (two female voices, one male; two
languages of telephone prompts and one of game dialogue). Fish Fillets
lines are named ``<level>-<character>-<line>.ogg``; the two main
characters, ``m`` (the small fish) and ``v`` (the big fish), speak about
40 minutes each per dub, and the minor characters (a minute or two each,
possibly voiced by the same actors) are not used. The Asterisk prompts
(``asterisk-core-sounds-es-wav`` is Allison again, so it is left out)
are one voice actor per language. KLettres has one speaker per language
reading letters and syllables of about a second each, joined here into
utterances; those voices only train.

Authors
 * sepformer-lobes contributors 2026
"""

from dataclasses import dataclass

ROLES = ("tr", "cv", "tt")


@dataclass(frozen=True)
class Package:
    """A Debian package of recordings, pinned.

    Arguments
    ---------
    name : str
        Debian package name.
    pins : tuple of (str, str)
        Accepted ``(version, sha256 of the .deb)``, tried in order.
    licence : str
        Licence of the recordings (Debian's short name).
    copyright : str
        Who holds the copyright of the recordings.
    """

    name: str
    pins: tuple[tuple[str, str], ...]
    licence: str
    copyright: str

    @property
    def doc(self) -> str:
        """The package's copyright file, relative to its unpacked root."""
        return f"usr/share/doc/{self.name}/copyright"


@dataclass(frozen=True)
class Voice:
    """One real voice: a person's recordings in one package.

    Arguments
    ---------
    id : str
        Three characters of ``[0-9a-z]``, the speaker id in file names.
    name : str
        Who speaks, as the package credits them.
    package : str
        The package holding the recordings.
    glob : str
        The recordings, relative to the unpacked package.
    role : str
        ``tr``, ``cv`` or ``tt``: the only split the voice appears in.
    sex : str
        ``f`` or ``m``.
    language : str
        Language of the recordings.
    name_prefix : str
        Only files whose name starts with a level name and this (a
        character code, e.g. ``-m-``) belong to the voice.
    """

    id: str
    name: str
    package: str
    glob: str
    role: str
    sex: str
    language: str
    name_prefix: str = ""


_FILLETS = "usr/share/games/fillets-ng/sound/*/{}/*.ogg"
_ASTERISK = "usr/share/asterisk/sounds/{}/**/*.wav"
_KLETTRES = "usr/share/klettres/{}/**/*.ogg"
_GPL = "GPL-2"

PACKAGES = {
    p.name: p
    for p in (
        Package(
            "fillets-ng-data-nl",
            (
                (
                    "1.0.1-1.1",
                    "afb4443fda9ab507dee578b75be857d121718a1c"
                    "d6017a474f30e0eb13dc9d10",
                ),
                (
                    "1.0.1-2",
                    "bb825cc6d440d376efb6fd5cec1974c49defa948"
                    "8960c44b3bb17dba45222d49",
                ),
            ),
            _GPL,
            "Ivo and Pavel Danihelka, ALTAR interactive (Fish Fillets NG)",
        ),
        Package(
            "fillets-ng-data-cs",
            (
                (
                    "1.0.1-1.1",
                    "3ecef99b9456f1c80c9625c6f2418642b52d58e7"
                    "167a46bad7a412db17991b14",
                ),
                (
                    "1.0.1-2",
                    "dd387d4c149c0b91f20955c337b361583b4433b5"
                    "41075ec2f9501e2cda87ffcb",
                ),
            ),
            _GPL,
            "Ivo and Pavel Danihelka, ALTAR interactive (Fish Fillets NG)",
        ),
        Package(
            "asterisk-core-sounds-en-wav",
            (
                (
                    "1.6.1-1",
                    "2be3ea287d83299d143815fa804f11179a75b7af"
                    "fd4a758b98b55f5afc18a35d",
                ),
            ),
            "CC-BY-SA-3.0",
            "2003-2010 Allison Smith (Digium, Inc.)",
        ),
        Package(
            "asterisk-core-sounds-fr-wav",
            (
                (
                    "1.6.1-1",
                    "8d4e1bc32ed5ba7fbda40841ca1825ed20cc6232"
                    "724a473c90f8bb0e53e6073e",
                ),
            ),
            "CC-BY-SA-3.0",
            "2006-2008 June Wallack",
        ),
        Package(
            "asterisk-core-sounds-it-wav",
            (
                (
                    "1.6.1-1",
                    "5a26638089e134b8ac39363fe249c5c93c50cd8b"
                    "fdc9b2499ae61ec4a35e2fcb",
                ),
            ),
            "CC-BY-3.0",
            "2012 Carlo Flora",
        ),
        Package(
            "asterisk-core-sounds-ru-wav",
            (
                (
                    "1.6.1-1",
                    "ccbfaebfa450b7a9ddf644ae0f3d1e9017d5df7c"
                    "0aebe816e946345589d38201",
                ),
            ),
            "CC-BY-3.0",
            "2010 Maxim Topal (ivrvoice.ru)",
        ),
        Package(
            "klettres-data",
            (
                (
                    "4:22.12.3-1",
                    "1186d257a19e84230856baea0b0b1ded8be91950"
                    "80fcdb2588970b5cd937f5a8",
                ),
                (
                    "4:25.04.0-1",
                    "680eca97afa1d19bedac55e2bd93746415da8908"
                    "2462501949bd434d0112a8b0",
                ),
            ),
            "GPL-2+",
            "2001-2011 Anne-Marie Mahfouf and the KDE contributors",
        ),
    )
}

_KLETTRES_LANGUAGES = {  # speaker id: language folder
    "kar": "ar",
    "kcs": "cs",
    "kda": "da",
    "kde": "de",
    "ken": "en",
    "kgb": "en_GB",
    "kes": "es",
    "kfr": "fr",
    "khe": "he",
    "khu": "hu",
    "kit": "it",
    "klt": "lt",
    "kml": "ml",
    "knb": "nb",
    "knd": "nds",
    "knl": "nl",
    "kpt": "pt_BR",
    "kru": "ru",
    "ktn": "tn",
    "kuk": "uk",
}

VOICES = (
    Voice(
        "aen",
        "Allison Smith",
        "asterisk-core-sounds-en-wav",
        _ASTERISK.format("en_US_f_Allison"),
        "tr",
        "f",
        "en-US",
    ),
    Voice(
        "fnv",
        "the big fish (Dutch dub)",
        "fillets-ng-data-nl",
        _FILLETS.format("nl"),
        "tr",
        "m",
        "nl",
        "-v-",
    ),
    Voice(
        "fcm",
        "the small fish (Czech original)",
        "fillets-ng-data-cs",
        _FILLETS.format("cs"),
        "tr",
        "f",
        "cs",
        "-m-",
    ),
    *(
        Voice(
            voice_id,
            f"KLettres {language} speaker",
            "klettres-data",
            _KLETTRES.format(language),
            "tr",
            "?",
            language,
        )
        for voice_id, language in _KLETTRES_LANGUAGES.items()
    ),
    Voice(
        "aru",
        "IvrvoiceRU (Maxim Topal)",
        "asterisk-core-sounds-ru-wav",
        _ASTERISK.format("ru_RU_f_IvrvoiceRU"),
        "cv",
        "f",
        "ru",
    ),
    Voice(
        "fcv",
        "the big fish (Czech original)",
        "fillets-ng-data-cs",
        _FILLETS.format("cs"),
        "cv",
        "m",
        "cs",
        "-v-",
    ),
    Voice(
        "afr",
        "June Wallack",
        "asterisk-core-sounds-fr-wav",
        _ASTERISK.format("fr_CA_f_June"),
        "tt",
        "f",
        "fr-CA",
    ),
    Voice(
        "ait",
        "Carlo Flora",
        "asterisk-core-sounds-it-wav",
        _ASTERISK.format("it_IT_m_Carlo"),
        "tt",
        "m",
        "it",
    ),
    Voice(
        "fnm",
        "the small fish (Dutch dub)",
        "fillets-ng-data-nl",
        _FILLETS.format("nl"),
        "tt",
        "f",
        "nl",
        "-m-",
    ),
)
