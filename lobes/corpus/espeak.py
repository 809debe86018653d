"""The speech source of the embedded corpus: eSpeak NG through ctypes.

Speakers are eSpeak NG voices: language/accent x voice variant
(``espeak-ng-data/voices/!v``) x pitch x pitch range x rate; each speaks text
in its language from a built-in word list (:func:`sentence`). eSpeak NG
comes from the ``espeakng-loader`` package (:data:`INSTALL_HINT`).

Authors
 * sepformer-lobes contributors 2026
"""

import _ctypes
import ctypes
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

INSTALL_HINT = "pip install 'sepformer-lobes[synth]'"

_WORDS = {
    "en": """the of and to in is was he for it with as his on be at by had
    are but from or have an they which one you were her all she there would
    their we him been has when who will more no if out so said what up its
    about into than them can only other new some could time these two may
    then do first any my now such like our over man me even most made after
    also did many before must through back years where much your way well
    down should because each just those people how too little state good very
    make world still own see men work long get here between both life being
    under never day same another know while last might great old year off
    come since against go came right used take three morning river garden
    window letter market winter summer table music water story city""",
    "de": """der die das und ist nicht ein eine zu mit von auf für sich dem
    den im auch als an er sie es wir ihr noch nach wie bei aus so wenn um nur
    war haben werden kann schon heute Haus Stadt Zeit Jahr Mann Frau Kind Tag
    Welt Leben Arbeit Wasser Weg Hand Land Schule Freund gut groß klein neu
    alt schnell lang immer wieder gehen kommen sehen sagen machen geben
    finden denken Morgen Garten Fenster Brief Sommer Winter Musik""",
    "es": """el la los las de y en que un una por con para es está son muy
    más pero como cuando casa ciudad tiempo año hombre mujer niño día mundo
    vida trabajo agua camino mano país escuela amigo bueno grande pequeño
    nuevo viejo rápido siempre ahora hacer decir ver ir venir dar tener saber
    pensar hablar mañana jardín ventana carta verano invierno música""",
    "fr": """le la les un une de des et en est dans pour avec sur pas plus
    mais comme quand maison ville temps année homme femme enfant jour monde
    vie travail eau chemin main pays école ami bon grand petit nouveau vieux
    toujours maintenant faire dire voir aller venir donner prendre savoir
    penser parler matin jardin fenêtre lettre été hiver musique""",
    "it": """il la lo gli le un una di e che per con su non più ma come
    quando casa città tempo anno uomo donna bambino giorno mondo vita lavoro
    acqua strada mano paese scuola amico buono grande piccolo nuovo vecchio
    sempre adesso fare dire vedere andare venire dare prendere sapere pensare
    parlare mattina giardino finestra lettera estate inverno musica""",
    "nl": """de het een en van in is dat op te met voor niet zijn maar als
    ook wanneer huis stad tijd jaar man vrouw kind dag wereld leven werk
    water weg hand land school vriend goed groot klein nieuw oud altijd nu
    maken zeggen zien gaan komen geven nemen weten denken spreken morgen
    tuin raam brief zomer winter muziek""",
    "pt": """o a os as um uma de e em que para com não mais mas como quando
    casa cidade tempo ano homem mulher criança dia mundo vida trabalho água
    caminho mão país escola amigo bom grande pequeno novo velho sempre agora
    fazer dizer ver ir vir dar tomar saber pensar falar manhã jardim janela
    carta verão inverno música""",
}
# eSpeak NG voice (language/accent) -> word list; English is half of them.
VOICES = {
    "en": "en",
    "en-US": "en",
    "en-GB-scotland": "en",
    "en-GB-x-rp": "en",
    "en-029": "en",
    "en-US-nyc": "en",
    "en-GB-x-gbclan": "en",
    "en-GB-x-gbcwmd": "en",
    "de": "de",
    "nl": "nl",
    "es": "es",
    "es-419": "es",
    "fr": "fr",
    "it": "it",
    "pt": "pt",
    "pt-BR": "pt",
}


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak NG voice with fixed prosody.

    Arguments
    ---------
    id : str
        Three characters, the prefix of every file stem of the speaker.
    voice : str
        eSpeak NG language/accent voice, e.g. ``"en-US"``.
    variant : str
        Voice variant (a file in ``espeak-ng-data/voices/!v``).
    pitch : int
        eSpeak base pitch, 0..99.
    pitch_range : int
        eSpeak pitch range, 0..99.
    rate : int
        Speaking rate in words per minute.
    """

    id: str
    voice: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int


class ESpeak:
    """eSpeak NG through ctypes, deterministic per utterance.

    eSpeak keeps synthesis state in static variables (wave phase, pitch
    flutter, ...), so one call's samples depend on everything spoken
    before. Each utterance is therefore spoken by a freshly loaded private
    copy of the library, unloaded afterwards (under 1 ms): the same
    arguments give the same samples in any order, whoever else in the
    process uses eSpeak.

    Example
    -------
    >>> tts = ESpeak()
    >>> voice = Speaker("abc", "en-US", "m3", 50, 40, 170)
    >>> wav = tts.synthesize("Hello world.", voice, seed=1)
    >>> wav.dtype == np.int16, ESpeak.sample_rate
    (True, 22050)
    >>> bool((wav == tts.synthesize("Hello world.", voice, seed=1)).all())
    True
    """

    sample_rate = 22050
    _callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_short),
        ctypes.c_int,
        ctypes.c_void_p,
    )

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError as err:
            raise ImportError(
                "lobes.synthmix needs eSpeak NG from the espeakng-loader "
                f"package, which is not installed: {INSTALL_HINT}"
            ) from err
        self._tmp = tempfile.TemporaryDirectory(prefix="synthmix-")
        self._library = os.path.join(self._tmp.name, "libespeak-ng-own.so")
        shutil.copyfile(espeakng_loader.get_library_path(), self._library)
        data = espeakng_loader.get_data_path()
        self._data = data.encode()
        self.variants = sorted(
            name
            for name in os.listdir(os.path.join(data, "voices", "!v"))
            if " " not in name  # "+" voice syntax cannot name these
        )

    def synthesize(self, text: str, speaker: Speaker, seed: int) -> np.ndarray:
        """Speaks ``text``; returns int16 samples at 22050 Hz.

        Arguments
        ---------
        text : str
            UTF-8 text in the speaker's language.
        speaker : Speaker
            Voice, variant and prosody.
        seed : int
            Seed of eSpeak's internal random generator.

        Returns
        -------
        numpy.ndarray
            int16 samples; never clipped (the volume is halved and the
            utterance spoken again if eSpeak saturates).
        """
        volume = 40  # some variants saturate int16 at eSpeak's default 100
        while True:
            wav = self._speak(text, speaker, seed, volume)
            if np.abs(wav.astype(np.int32)).max() < 32767:
                return wav
            volume //= 2

    def _speak(self, text, speaker, seed, volume):
        chunks = []

        def collect(samples, n, events):
            if n > 0:
                chunk = np.ctypeslib.as_array(samples, shape=(n,))
                chunks.append(chunk.copy())
            return 0  # 0: go on

        callback = self._callback_type(collect)
        lib = ctypes.CDLL(self._library)
        try:
            lib.espeak_Initialize.argtypes = [
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.espeak_SetSynthCallback.argtypes = [self._callback_type]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int] * 3
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            # AUDIO_OUTPUT_SYNCHRONOUS, 1 s buffers, don't exit() on error
            rate = lib.espeak_Initialize(2, 1000, self._data, 0x8000)
            if rate != self.sample_rate:
                raise RuntimeError(f"eSpeak NG failed to start ({rate})")
            lib.espeak_SetSynthCallback(callback)
            name = f"{speaker.voice}+{speaker.variant}"
            if lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {name!r}")
            for parameter, value in (
                (1, speaker.rate),  # espeakRATE
                (2, volume),  # espeakVOLUME
                (3, speaker.pitch),  # espeakPITCH
                (4, speaker.pitch_range),  # espeakRANGE
            ):
                lib.espeak_SetParameter(parameter, value, 0)
            lib.espeak_ng_SetRandSeed(seed)
            data = text.encode()
            # POS_CHARACTER, espeakCHARS_UTF8
            if lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None):
                raise RuntimeError(f"eSpeak NG failed to speak {text!r}")
            lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def sentence(voice: str, rng: np.random.Generator) -> str:
    """Draws a sentence of 6-15 common words in the language of ``voice``.

    Arguments
    ---------
    voice : str
        eSpeak NG voice, a key of ``VOICES``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    str

    Example
    -------
    >>> text = sentence("en", np.random.default_rng(0))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    """
    words = _WORDS[VOICES[voice]].split()
    picked = [str(w) for w in rng.choice(words, size=rng.integers(6, 16))]
    if rng.random() < 0.3:  # a comma for a phrase break
        picked[rng.integers(2, len(picked) - 2)] += ","
    text = " ".join(picked) + ("?" if rng.random() < 0.2 else ".")
    return text[0].upper() + text[1:]
