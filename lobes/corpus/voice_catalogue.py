"""The real voices of the embedded corpus: pinned Debian packages of
recorded speech, the voices in them, and the split each voice serves.

Each package is pinned to exact versions and the SHA-256 of their ``.deb``
files (Debian 12 "bookworm" first, then Debian 13 "trixie"). Each voice is
one person, whose recordings are found by a glob in the unpacked package
(and, where one package holds several people, a pattern on the file name
or folders left out), and serves one role only:

- ``tr``: training and dynamic mixing (``clean/tr``);
- ``cv``: validation;
- ``tt``: the real-speech test split (``tt_real``).

So no voice of the validation or test splits is ever heard in training.
The three test voices give three pairs (two female voices, one male; two
languages of telephone prompts and one of game dialogue).

The packages:

- Fish Fillets NG: lines are named ``<level>-<character>-<line>.ogg``; the
  two main characters, ``m`` (the small fish) and ``v`` (the big fish),
  speak about 40 minutes each per dub, and the minor characters (a minute
  or two each, possibly voiced by the same actors) are not used.
- Asterisk: one voice actor per language and package, 10-25 minutes of
  prompts at 8 kHz, WAV or GSM (``asterisk-core-sounds-es-wav`` is Allison
  again, so it is left out). The Colombian Spanish prompts are in ``es/`` in
  bookworm and ``es_CO_f_Avatar/`` in trixie, the same files.
- Tux Paint stamps: a spoken description of each stamp (a word or a short
  phrase, 1-2 s), 5-20 minutes per language, each language recorded by
  one person (credited in the package's changelog); ``symbols/`` (numbers
  and letters, recorded by others) is left out, and so are the French
  ``animals/``, where a second, female voice speaks some of the lines.
  Trixie's version holds the same recordings re-encoded in mono at a
  lower bit rate (and a few more stamps), so its utterances differ a
  little from bookworm's; the people are the same.
- KLettres: one speaker per language reading letters and syllables of
  about a second each, joined here into utterances; those voices only
  train, with a minute or two each (Malayalam's, 18). The speakers are
  not credited: the Danish and the French ones (both male) may be the
  Tux Paint speakers of those languages.

Where a package does not say a speaker's sex, their pitch does: the
median pitch of the Tux Paint and prompt voices is 118-148 Hz for the
men and 180-258 Hz for the women.

Except for the Tux Paint stamps, the audio files of both pinned versions
are identical, checked file by file. No training voice is one of the
validation or test people: those are the big fish of the Czech original,
IvrvoiceRU (Russian prompts), the small fish of the Dutch dub, June
Wallack (Canadian French prompts) and Carlo Flora (Italian prompts).

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
    exclude : tuple of str
        Folders, relative to the unpacked package, whose files do not
        belong to the voice (recorded by other people).
    """

    id: str
    name: str
    package: str
    glob: str
    role: str
    sex: str
    language: str
    name_prefix: str = ""
    exclude: tuple[str, ...] = ()


_FILLETS = "usr/share/games/fillets-ng/sound/*/{}/*.ogg"
_ASTERISK = "usr/share/asterisk/sounds/{}/**/*.wav"
_KLETTRES = "usr/share/klettres/{}/**/*.ogg"
_PROMPTS = "usr/share/asterisk/sounds/{}/**/*.gsm"
_STAMPS = "usr/share/tuxpaint/stamps"
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
        Package(
            "asterisk-prompt-es-co",
            (
                (
                    "0.20070403-2.1",
                    "6702696e045514699e87dc8fb70f370717e5df91"
                    "f821f7bec8dd0df1be008e83",
                ),
                (
                    "0.20070403-4",
                    "36095a4c6761be6f05e8f8505480e6d31e4a114d"
                    "60413c5f6a1fbf59985ad132",
                ),
            ),
            _GPL,
            "2006 Avatar Ltda. (http://www.avatar.com.co/), voice of "
            "July E. Jiménez",
        ),
        Package(
            "asterisk-prompt-fr-armelle",
            (
                (
                    "20070613-2.2",
                    "162570b1a9b3512a98f06b89f60c7c17cf1b9b52"
                    "297315adca9a4e5be728bea3",
                ),
                (
                    "20070613-3",
                    "2fe2bd3469cd3c2b44259cd61f77cc36f24bab67"
                    "7f8c71d8011b58007ffa7379",
                ),
            ),
            "BSD-2-clause",
            "2006 Michel Gutierrez, voice of Armelle Desjardins",
        ),
        Package(
            "asterisk-prompt-it-menardi-wav",
            (
                (
                    "1:1.4.22+mm20110907-3.1",
                    "3094530d98f8758ac275572d59624c41f60969fe"
                    "f883f34f4886d144f3dfeb21",
                ),
                (
                    "1:1.4.22+mm20110907-3.2",
                    "a25d3c72f3a56e0648b282c138b42cd9b814bab9"
                    "24addafd38f7a712f9933984",
                ),
            ),
            "CC-BY-SA-3.0-IT",
            "2006-2011 Marco Menardi and Paola Dal Zot (voice), "
            "http://www.voip.ammdomus.it",
        ),
        Package(
            "tuxpaint-stamps-default",
            (
                (
                    "2022.06.04-1",
                    "6db6c1bfc870a47f1499d6203b083522eacb57c5"
                    "f9c87d468f2e92eb6d9d5f34",
                ),
                (
                    "2025.03.31-1",
                    "6312d03a37d0220b10fc91a7467bf2a2a2336e08"
                    "c2f416de04311d25fd7aeacb",
                ),
            ),
            _GPL,
            "2002-2022 Bill Kendrick and the Tux Paint contributors",
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

_STAMP_SPEAKERS = (  # speaker id, who (the changelog's credit), sex, language
    ("tbe", "Kseniya Buraya", "f", "be"),
    ("tbg", "Krasimir Petkov", "m", "bg"),
    ("tca", "Pere Pujal i Carabantes", "m", "ca"),
    ("tda", "Joe Dalton", "m", "da"),
    ("tel", "Kiriaki Serafeim", "f", "el"),
    ("tes", "Estefanía Ortiz", "f", "es"),
    ("tfr", "a French speaker (PaulK or Jacques Chion)", "m", "fr"),
    ("tro", "Tabbytha", "f", "ro"),
    ("tru", "Edwin Veber", "m", "ru"),
)
_NOT_THEIRS = {"fr": ("animals",)}  # folders where someone else speaks too

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
        "aco",
        "July E. Jiménez",
        "asterisk-prompt-es-co",
        _PROMPTS.format("es*"),  # es/ (bookworm), es_CO_f_Avatar/ (trixie)
        "tr",
        "f",
        "es-CO",
    ),
    Voice(
        "afa",
        "Armelle Desjardins",
        "asterisk-prompt-fr-armelle",
        _PROMPTS.format("fr"),
        "tr",
        "f",
        "fr",
    ),
    Voice(
        "aim",
        "Paola Dal Zot",
        "asterisk-prompt-it-menardi-wav",
        "usr/share/asterisk/sounds/it_IT_f_Menardi/**/*.wav",
        "tr",
        "f",
        "it",
    ),
    *(
        Voice(
            voice_id,
            f"{who} (Tux Paint)",
            "tuxpaint-stamps-default",
            f"{_STAMPS}/**/*_desc_{language}.ogg",
            "tr",
            sex,
            language,
            exclude=tuple(
                f"{_STAMPS}/{folder}"
                for folder in ("symbols", *_NOT_THEIRS.get(language, ()))
            ),
        )
        for voice_id, who, sex, language in _STAMP_SPEAKERS
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
