"""The embedded speech corpus: eSpeak NG speakers in WSJ0-2Mix / WHAM! layouts.

No speech corpus can be downloaded here and WSJ0 is licensed, so the default
data is synthesised. Run::

    python -m lobes.synthmix OUT_DIR --layout wsj0-2mix \\
        --n-train 20 --n-valid 5 --n-test 5 --seed 1234 --sample-rate 8000

Output (``wav8k`` becomes ``wav16k`` at 16 kHz; all files 16-bit PCM)::

    OUT/synthmix.json                    arguments, speakers, texts, gains, SNRs
    OUT/clean/{tr,cv,tt}/SPK/SPKnnnnn.wav    clean utterances, peak 0.9
    OUT/wav8k/min/{tr,cv,tt}/{mix,s1,s2}/ID.wav                  wsj0-2mix
    OUT/wav8k/min/{tr,cv,tt}/{mix_both,mix_clean,s1,s2,noise}/ID.wav   wham

``OUT/clean/tr`` serves as SpeechBrain's ``base_folder_dm`` for dynamic
mixing: SPK is a 3-character speaker id, the parent folder and the first 3
characters of every file stem (which upstream's WSJ0 dynamic mixing uses as
speaker id). For WHAM! dynamic mixing the noise files are
``OUT/wav8k/min/tr/noise``. Mixture ids follow WSJ0-2Mix:
``UTT1_GAIN1_UTT2_GAIN2`` with the source gains in dB. Same arguments give
byte-identical files; a split's content does not depend on the sizes of
the other splits. ``synthmix.json`` also marks the folder as ours: only
such a folder is replaced with ``--overwrite``.

Speakers are eSpeak NG voices: language/accent x voice variant
(``espeak-ng-data/voices/!v``) x pitch x pitch range x rate; each speaks text
in its language from a built-in word list. The voice variants are
partitioned between tr, cv, tt and the babble talkers, so no two of these
share a timbre, let alone a speaker.

Mixing follows the WSJ0-2Mix scripts (:func:`mix_sources`): sources cropped
to the shorter one ("min"), level-normalised, relative gain ``g`` uniform in
0..5 dB (first source ``+g/2`` dB, second ``-g/2`` dB), and every signal of
a mixture scaled by one factor so the largest peak is 0.9 (as the WSJ0-2Mix
scripts and SpeechBrain's dynamic mixing do). Levels are measured on the
part that is kept, so the drawn gain is the gain in the files.

Noise (WHAM! layout, :func:`add_noise`) is babble of 3-5 talkers whose
voices no split uses, plus coloured 1/f^alpha noise (alpha 0..2, white to
brown), half of it amplitude-modulated (0.2-2 Hz) to make it non-stationary.
It is mixed at an SNR drawn uniformly in -6..+3 dB relative to the louder
speaker: the range and reference of WHAM! (Wichern et al., Interspeech
2019), so models see the difficulty they would on WHAM!. Then all signals
are scaled together so the largest peak is 0.9.

Sources and noise are quantised to 16 bits first and the mixtures summed in
integers, so ``mix == s1 + s2`` and ``mix_both == mix_clean + noise`` hold
exactly on the files as read back, in PCM_16 like WSJ0-2Mix.

Authors
 * sepformer-lobes contributors
"""

import _ctypes
import argparse
import ctypes
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

logger = get_logger(__name__)

LAYOUTS = {
    "wsj0-2mix": ("mix", "s1", "s2"),
    "wham": ("mix_both", "mix_clean", "s1", "s2", "noise"),
}
SPLITS = ("tr", "cv", "tt")
SAMPLE_RATES = (8000, 16000)
MAX_GAIN_DB = 5.0  # WSJ0-2Mix: relative gain uniform in 0..5 dB
SNR_RANGE_DB = (-6.0, 3.0)  # WHAM!: noise vs the louder speaker
PEAK = 0.9  # WSJ0-2Mix and SpeechBrain scale every mixture to this peak
UTTERANCES_PER_SPEAKER = 4
METADATA = "synthmix.json"
GENERATOR = "lobes.synthmix"
INSTALL_HINT = "pip install 'sepformer-lobes[synth]'"

# Shares of the voice variants held out of tr; "noise" voices only babble.
_HELD_OUT_VARIANTS = {"cv": 0.125, "tt": 0.125, "noise": 0.15}
_PITCHES = range(20, 81, 10)  # eSpeak pitch 0..99
_PITCH_RANGES = range(20, 81, 20)  # eSpeak pitch range 0..99
_RATES = range(130, 211, 20)  # words per minute

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
_VOICES = {
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
        eSpeak NG voice, a key of ``_VOICES``.
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
    words = _WORDS[_VOICES[voice]].split()
    picked = [str(w) for w in rng.choice(words, size=rng.integers(6, 16))]
    if rng.random() < 0.3:  # a comma for a phrase break
        picked[rng.integers(2, len(picked) - 2)] += ","
    text = " ".join(picked) + ("?" if rng.random() < 0.2 else ".")
    return text[0].upper() + text[1:]


def mix_sources(
    sources: list[torch.Tensor], rng: np.random.Generator
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Mixes sources as the WSJ0-2Mix scripts do, in "min" mode.

    Crops every source to the shortest (keeping the start), normalises each
    to unit RMS, applies the relative gain ``g`` ~ U(0, 5) dB as ``+g/2``
    dB to the first source and ``-g/2`` dB to the second (further sources
    get a level in -2.5..+2.5 dB), then scales all of them by one factor so
    the largest peak of mixture and sources is 0.9. Levels are measured on
    the cropped signals, so the drawn gain is the gain of the output.

    Arguments
    ---------
    sources : list of torch.Tensor
        At least two 1-D signals, [time_i].
    rng : numpy.random.Generator
        Draws the gains.

    Returns
    -------
    mixture : torch.Tensor
        [time], float32, exactly ``sum(scaled_sources)``.
    scaled_sources : list of torch.Tensor
        [time] each, float32.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> s1, s2 = torch.randn(800), torch.randn(700)
    >>> mix, (a, b) = mix_sources([s1, s2], rng)
    >>> mix.shape, bool(torch.equal(mix, a + b))
    (torch.Size([700]), True)
    >>> gain = 10 * torch.log10(a.pow(2).mean() / b.pow(2).mean())
    >>> bool(0 <= gain <= 5)
    True
    """
    if len(sources) < 2:
        raise ValueError(f"mix_sources needs 2 or more, got {len(sources)}")
    length = min(s.shape[-1] for s in sources)
    gain = rng.uniform(0, MAX_GAIN_DB)
    levels_db = [gain / 2, -gain / 2] + list(
        rng.uniform(-MAX_GAIN_DB / 2, MAX_GAIN_DB / 2, len(sources) - 2)
    )
    scaled = [
        _unit_rms(s[..., :length].double(), f"source {i}") * 10 ** (db / 20)
        for i, (s, db) in enumerate(zip(sources, levels_db, strict=True))
    ]
    scale = PEAK / _peak([sum(scaled), *scaled])
    scaled = [(s * scale).float() for s in scaled]
    return sum(scaled), scaled


def add_noise(
    mixture: torch.Tensor,
    sources: list[torch.Tensor],
    noise: torch.Tensor,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Adds noise at a WHAM!-style SNR and rescales against clipping.

    The noise is cropped at a random offset (or tiled) to the mixture's
    length and scaled to an SNR ~ U(-6, 3) dB relative to the louder
    source, as in WHAM!. Then mixture, noise and sources are scaled by one
    factor so the largest peak of all is 0.9. ``mixture`` is passed apart
    from ``sources`` so a mixture that is not their plain sum (e.g.
    reverberant) works too.

    Arguments
    ---------
    mixture : torch.Tensor
        [time], the clean mixture.
    sources : list of torch.Tensor
        [time] each, the targets the SNR refers to.
    noise : torch.Tensor
        [noise_time], any length.
    rng : numpy.random.Generator
        Draws the SNR and the crop offset.

    Returns
    -------
    noisy_mixture : torch.Tensor
        [time], float32, ``f * mixture + scaled_noise``.
    scaled_noise : torch.Tensor
        [time], float32.
    scaled_sources : list of torch.Tensor
        [time] each, float32, the sources times the same factor ``f``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> mix, sources = mix_sources([torch.randn(800), torch.randn(900)], rng)
    >>> noisy, noise, (a, b) = add_noise(mix, sources, torch.randn(300), rng)
    >>> noisy.shape == noise.shape == a.shape
    True
    >>> snr = 10 * torch.log10(a.pow(2).mean() / noise.pow(2).mean())
    >>> bool(-6 <= snr <= 3)
    True
    """
    length = mixture.shape[-1]
    if any(s.shape[-1] != length for s in sources):
        raise ValueError("add_noise: sources must be as long as the mixture")
    noise = _unit_rms(_fit_length(noise.double(), length, rng), "noise")
    snr = rng.uniform(*SNR_RANGE_DB)
    loudest = max(s.double().pow(2).mean() for s in sources)
    noise = noise * torch.sqrt(loudest / 10 ** (snr / 10))
    mixture, sources = mixture.double(), [s.double() for s in sources]
    scale = PEAK / _peak([mixture + noise, mixture, noise, *sources])
    noise = (noise * scale).float()
    noisy = (mixture * scale).float() + noise
    return noisy, noise, [(s * scale).float() for s in sources]


def _unit_rms(signal, name):
    power = signal.pow(2).mean()
    if not power > 0:
        raise ValueError(f"{name} is silent; cannot normalise its level")
    return signal / power.sqrt()


def _peak(signals):
    return max(s.abs().max().item() for s in signals)


def _fit_length(signal, length, rng):
    """Crops at a random offset, or tiles, ``signal`` to ``length``."""
    if signal.shape[-1] > length:
        start = int(rng.integers(0, signal.shape[-1] - length + 1))
        return signal[..., start : start + length]
    repeats = math.ceil(length / signal.shape[-1])
    return signal.repeat(repeats)[..., :length]


def _coloured_noise(length, alpha, rng):
    """Gaussian noise with a 1/f^alpha power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    freqs[0] = freqs[1]  # keep DC finite
    noise = np.fft.irfft(spectrum * freqs ** (-alpha / 2), n=length)
    return torch.from_numpy(noise / np.sqrt(np.mean(noise**2)))


def _make_noise(length, sample_rate, babble_pool, rng):
    """Babble of 3-5 held-apart talkers plus coloured noise, maybe AM."""
    picks = rng.choice(len(babble_pool), size=rng.integers(3, 6), replace=False)
    babble = torch.zeros(length, dtype=torch.float64)
    for i in picks:
        talker = torch.from_numpy(babble_pool[i][1])
        talker = torch.roll(talker, int(rng.integers(talker.shape[-1])))
        level = 10 ** (rng.uniform(-3, 3) / 20)
        babble += _unit_rms(_fit_length(talker, length, rng), "talker") * level
    alpha = rng.uniform(0, 2)
    babble_db = rng.uniform(-10, 10)  # babble vs coloured noise
    noise = _unit_rms(babble, "babble") * 10 ** (babble_db / 20)
    noise = noise + _coloured_noise(length, alpha, rng)
    info = {
        "talkers": [babble_pool[i][0] for i in picks],
        "babble_db": babble_db,
        "alpha": alpha,
        "modulation": None,
    }
    if rng.random() < 0.5:  # non-stationary: slow amplitude modulation
        depth, hertz = rng.uniform(0.3, 0.9), rng.uniform(0.2, 2)
        t = torch.arange(length, dtype=torch.float64) / sample_rate
        phase = rng.uniform(0, 2 * math.pi)
        noise = noise * (1 + depth * torch.sin(2 * math.pi * hertz * t + phase))
        info["modulation"] = {"depth": depth, "hertz": hertz}
    return noise, info


def _to_pcm16(signal):
    return np.round(signal.double().numpy() * 32768).astype(np.int32)


def _write(path, samples, sample_rate):
    assert np.abs(samples).max(initial=0) < 32768, path  # PEAK < 1
    # through memory: soundfile fsyncs files it closes, 2-3 ms each
    wav = io.BytesIO()
    sf.write(wav, samples.astype(np.int16), sample_rate, "PCM_16", format="WAV")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav.getvalue())


def _speaker_id(number):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(digits[number // 36**k % 36] for k in (2, 1, 0))


def _draw_speakers(count, variants, ids, rng):
    """Draws ``count`` speakers with distinct voice/prosody combinations."""
    combos = len(_VOICES) * len(variants) * len(_PITCHES)
    combos *= len(_PITCH_RANGES) * len(_RATES)
    if count > combos // 2:
        raise ValueError(
            f"{count} speakers asked from {combos} voice combinations; "
            "ask for fewer mixtures"
        )
    voices = list(_VOICES)
    speakers, seen = [], set()
    while len(speakers) < count:
        combo = (
            voices[rng.integers(len(voices))],
            variants[rng.integers(len(variants))],
            int(rng.choice(_PITCHES)),
            int(rng.choice(_PITCH_RANGES)),
            int(rng.choice(_RATES)),
        )
        if combo not in seen:
            seen.add(combo)
            speaker_id = _speaker_id(ids[len(speakers)])
            speakers.append(Speaker(speaker_id, *combo))
    return speakers


def _plan_speakers(counts, variants, seed):
    """Speakers of each role ("tr", "cv", "tt", "noise-tr", ...).

    Voice variants are dealt out so that tr, cv, tt and the babble talkers
    share none; each role has its own generator and ids, so a split's
    speakers do not depend on the sizes of the others.
    """
    rng = np.random.default_rng([seed, 0])
    order = [variants[i] for i in rng.permutation(len(variants))]
    ids = rng.permutation(36**3)  # 3 base-36 characters
    own, start = {}, 0
    for role, share in _HELD_OUT_VARIANTS.items():
        size = max(1, round(share * len(order)))
        own[role], start = order[start : start + size], start + size
    own["tr"] = order[start:]
    own.update({f"noise-{split}": own["noise"] for split in SPLITS})
    return {
        role: _draw_speakers(
            count,
            own[role],
            ids[k :: len(counts)],
            np.random.default_rng([seed, 1 + k]),
        )
        for k, (role, count) in enumerate(counts.items())
    }


def _check_args(layout, counts, sample_rate):
    if layout not in LAYOUTS:
        raise ValueError(
            f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}"
        )
    for flag, n in counts.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"--{flag} must be a positive integer, got {n!r}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(
            f"unsupported sample rate {sample_rate}; WSJ0-2Mix and WHAM! "
            f"come at {' or '.join(map(str, SAMPLE_RATES))} Hz"
        )


def _prepare_output(out, overwrite):
    """Makes ``out`` an empty writable folder; removes only our own output."""
    if out.is_dir() and any(out.iterdir()):
        marker = out / METADATA
        if not overwrite:
            raise FileExistsError(
                f"output folder {out} is not empty; choose another folder or "
                "pass --overwrite to replace a corpus made by lobes.synthmix"
            )
        try:
            outputs = json.loads(marker.read_text())["outputs"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise FileExistsError(
                f"refusing to overwrite {out}: it has no {METADATA} written "
                "by lobes.synthmix, so it may hold someone else's files"
            ) from err
        logger.info("Removing the lobes.synthmix corpus in %s", out)
        for name in outputs:
            path = out / Path(name).name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise OSError(
            f"cannot write the corpus to {out} ({err.strerror or err}); "
            "choose a writable OUT_DIR"
        ) from err


def generate(
    out_dir: str | os.PathLike,
    layout: str = "wsj0-2mix",
    n_train: int = 200,
    n_valid: int = 50,
    n_test: int = 50,
    seed: int = 1234,
    sample_rate: int = 8000,
    overwrite: bool = False,
) -> Path:
    """Writes a synthetic WSJ0-2Mix or WHAM! corpus (see module docstring).

    Arguments
    ---------
    out_dir : path
        Output folder; must be empty, missing, or (with ``overwrite``) a
        corpus written by this function.
    layout : str
        ``"wsj0-2mix"`` or ``"wham"``.
    n_train, n_valid, n_test : int
        Mixtures in tr, cv and tt.
    seed : int
        Same arguments give byte-identical files. A split's content does not
        depend on the sizes of the other splits.
    sample_rate : int
        8000 (``wav8k``) or 16000 (``wav16k``).
    overwrite : bool
        Replace a corpus this function wrote earlier in ``out_dir``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Example
    -------
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = generate(tmp, n_train=1, n_valid=1, n_test=1)
    ...     len(list(out.glob("wav8k/min/tt/mix/*.wav")))
    1
    """
    counts = {"n-train": n_train, "n-valid": n_valid, "n-test": n_test}
    _check_args(layout, counts, sample_rate)
    tts = ESpeak()  # fails early if eSpeak NG is missing
    out = Path(out_dir)
    _prepare_output(out, overwrite)
    meta = {
        "generator": GENERATOR,
        "complete": False,
        "outputs": [METADATA, "clean", f"wav{sample_rate // 1000}k"],
        "args": {
            "layout": layout,
            "n_train": n_train,
            "n_valid": n_valid,
            "n_test": n_test,
            "seed": seed,
            "sample_rate": sample_rate,
        },
    }
    (out / METADATA).write_text(json.dumps(meta, indent=1))  # marks it ours
    logger.info("Writing a %s corpus to %s", layout, out)

    sizes = dict(zip(SPLITS, counts.values(), strict=True))
    roles = {split: _speaker_count(n) for split, n in sizes.items()}
    for split, n in sizes.items():
        roles[f"noise-{split}"] = math.ceil(_babble_count(n) / 2)
    speakers = _plan_speakers(roles, tts.variants, seed)
    babble = layout == "wham"
    steps = sum(  # signals spoken or mixed
        n + UTTERANCES_PER_SPEAKER * roles[split] + babble * _babble_count(n)
        for split, n in sizes.items()
    )
    # The signals are short: intra-op threads cost more than they give
    # (50x slower on a busy machine), so use one and restore the setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tqdm(total=steps, desc="synthmix", unit="signal") as bar:
            writer = _CorpusWriter(tts, out, layout, sample_rate, bar)
            meta["splits"] = {
                split: writer.split(
                    split,
                    n,
                    speakers[split],
                    speakers[f"noise-{split}"],
                    np.random.default_rng([seed, 10 + k]),
                )
                for k, (split, n) in enumerate(sizes.items())
            }
    finally:
        torch.set_num_threads(threads)
    meta["complete"] = True
    (out / METADATA).write_text(json.dumps(meta, indent=1))
    return out


def _speaker_count(mixtures):
    return max(2, math.ceil(2 * mixtures / UTTERANCES_PER_SPEAKER))


def _babble_count(mixtures):
    """Babble utterances of a split, 2 per talker, 3-5 used per mixture."""
    return max(6, math.ceil(mixtures / 2))


class _CorpusWriter:
    """Writes the clean utterances and mixtures of each split."""

    def __init__(self, tts, out, layout, sample_rate, bar):
        self.tts, self.out, self.layout, self.bar = tts, out, layout, bar
        self.sample_rate = sample_rate
        self.mixtures = out / f"wav{sample_rate // 1000}k" / "min"
        self.resample = torchaudio.transforms.Resample(
            ESpeak.sample_rate, sample_rate
        )

    def speak(self, speaker, rng):
        """Draws a sentence; returns it and int samples peaking at 0.9."""
        text = sentence(speaker.voice, rng)
        native = self.tts.synthesize(text, speaker, int(rng.integers(2**31)))
        wav = torch.from_numpy(native).float()[None] / 32768
        wav = self.resample(wav)[0]  # [time]
        self.bar.update()
        return text, _to_pcm16(wav * PEAK / _peak([wav]))

    def split(self, split, n, speakers, talkers, rng):
        """Writes one split; returns its metadata."""
        self.bar.set_postfix(split=split)
        record = {"speakers": {s.id: asdict(s) for s in speakers}}
        record["utterances"] = {}
        for speaker in speakers:
            for i in range(UTTERANCES_PER_SPEAKER):
                utt = f"{speaker.id}{i:05d}"
                text, wav = self.speak(speaker, rng)
                path = self.out / "clean" / split / speaker.id / f"{utt}.wav"
                _write(path, wav, self.sample_rate)
                record["utterances"][utt] = {
                    "speaker": speaker.id,
                    "text": text,
                    "samples": len(wav),
                }
        babble = []  # (utterance id, samples)
        if self.layout == "wham":
            record["noise_speakers"] = {s.id: asdict(s) for s in talkers}
            record["noise_utterances"] = {}
            for i in range(_babble_count(n)):
                speaker = talkers[i // 2]
                utt = f"{speaker.id}{i % 2:05d}"
                text, wav = self.speak(speaker, rng)
                babble.append((utt, wav / 32768))
                record["noise_utterances"][utt] = {
                    "speaker": speaker.id,
                    "text": text,
                }
        record["mixtures"] = []
        by_speaker = {}
        for utt in record["utterances"]:
            by_speaker.setdefault(utt[:3], []).append(utt)
        pairs = set()
        while len(pairs) < n:
            spk1, spk2 = rng.choice(sorted(by_speaker), size=2, replace=False)
            pair = (
                str(rng.choice(by_speaker[spk1])),
                str(rng.choice(by_speaker[spk2])),
            )
            if pair not in pairs:
                pairs.add(pair)
                record["mixtures"].append(self.mix(split, pair, babble, rng))
        return record

    def mix(self, split, pair, babble, rng):
        """Writes the mixture of two clean utterances; returns its metadata."""
        clean = [
            sf.read(self.out / "clean" / split / u[:3] / f"{u}.wav")[0]
            for u in pair
        ]
        mixture, sources = mix_sources(
            [torch.from_numpy(c).float() for c in clean], rng
        )
        gain = _db(sources[0], sources[1])
        mix_id = f"{pair[0]}_{gain / 2:.5f}_{pair[1]}_{-gain / 2:.5f}"
        entry = {
            "id": mix_id,
            "utterances": list(pair),
            "speakers": [u[:3] for u in pair],
            "gain_db": gain,
            "samples": mixture.shape[-1],
        }
        if self.layout == "wham":
            noise, entry["noise"] = _make_noise(
                mixture.shape[-1], self.sample_rate, babble, rng
            )
            _, noise, sources = add_noise(mixture, sources, noise, rng)
            entry["snr_db"] = _db(max(sources, key=_power), noise)
            # sum in integers so the files add up exactly
            s1, s2, noise = (_to_pcm16(x) for x in (*sources, noise))
            files = {
                "mix_both": s1 + s2 + noise,
                "mix_clean": s1 + s2,
                "s1": s1,
                "s2": s2,
                "noise": noise,
            }
        else:
            s1, s2 = (_to_pcm16(x) for x in sources)
            files = {"mix": s1 + s2, "s1": s1, "s2": s2}
        for folder, samples in files.items():
            path = self.mixtures / split / folder / f"{mix_id}.wav"
            _write(path, samples, self.sample_rate)
        self.bar.update()
        return entry


def _power(signal):
    return signal.double().pow(2).mean().item()


def _db(signal, reference):
    return 10 * math.log10(_power(signal) / _power(reference))


def corpus_statistics(out_dir: str | os.PathLike) -> dict:
    """Counts files and sums durations, speakers, gains and SNRs of a corpus.

    Arguments
    ---------
    out_dir : path
        A folder written by :func:`generate`.

    Returns
    -------
    dict
        ``layout``, ``sample_rate``, ``seed``, ``files`` (wav files on
        disk), ``audio_hours`` (all wav files), ``gain_db`` and ``snr_db``
        (observed [min, max]; ``snr_db`` is None for wsj0-2mix) and
        ``splits``: per split ``mixtures``, ``mixture_hours``,
        ``utterances``, ``clean_hours``, ``speakers``.
    """
    out = Path(out_dir)
    meta = json.loads((out / METADATA).read_text())
    if meta.get("generator") != GENERATOR or not meta.get("complete"):
        raise ValueError(f"{out} holds no complete lobes.synthmix corpus")
    args = meta["args"]
    hours = 3600 * args["sample_rate"]
    folders = len(LAYOUTS[args["layout"]])
    splits, gains, snrs, total = {}, [], [], 0.0
    for split, record in meta["splits"].items():
        mix = sum(m["samples"] for m in record["mixtures"]) / hours
        clean = sum(u["samples"] for u in record["utterances"].values())
        splits[split] = {
            "mixtures": len(record["mixtures"]),
            "mixture_hours": mix,
            "utterances": len(record["utterances"]),
            "clean_hours": clean / hours,
            "speakers": len(record["speakers"]),
        }
        total += folders * mix + clean / hours
        gains += [m["gain_db"] for m in record["mixtures"]]
        snrs += [m["snr_db"] for m in record["mixtures"] if "snr_db" in m]
    return {
        "layout": args["layout"],
        "sample_rate": args["sample_rate"],
        "seed": args["seed"],
        "files": sum(1 for _ in out.rglob("*.wav")),
        "audio_hours": total,
        "gain_db": [min(gains), max(gains)],
        "snr_db": [min(snrs), max(snrs)] if snrs else None,
        "splits": splits,
    }


def format_statistics(stats: dict) -> str:
    """Renders :func:`corpus_statistics` as a short table.

    Arguments
    ---------
    stats : dict
        As returned by :func:`corpus_statistics`.

    Returns
    -------
    str
    """
    lines = [
        f"{stats['layout']} corpus, {stats['sample_rate']} Hz, "
        f"seed {stats['seed']}: {stats['files']} wav files, "
        f"{stats['audio_hours']:.3f} h of audio",
        "split  mixtures  mix h   utterances  clean h  speakers",
    ]
    for split, s in stats["splits"].items():
        lines.append(
            f"{split:5}  {s['mixtures']:8}  {s['mixture_hours']:6.3f}  "
            f"{s['utterances']:10}  {s['clean_hours']:7.3f}  {s['speakers']:8}"
        )
    low, high = stats["gain_db"]
    lines.append(
        f"relative gain {low:.2f} .. {high:.2f} dB "
        f"(drawn in 0..{MAX_GAIN_DB:g})"
    )
    if stats["snr_db"]:
        low, high = stats["snr_db"]
        lines.append(
            f"SNR vs louder speaker {low:.2f} .. {high:.2f} dB "
            f"(drawn in {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m lobes.synthmix OUT_DIR [options]``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.synthmix",
        description="Write a synthetic (eSpeak NG) speech separation corpus "
        "in the WSJ0-2Mix or WHAM! layout.",
    )
    parser.add_argument("out_dir", help="output folder")
    parser.add_argument("--layout", choices=list(LAYOUTS), default="wsj0-2mix")
    parser.add_argument("--n-train", type=int, default=200, help="tr mixtures")
    parser.add_argument("--n-valid", type=int, default=50, help="cv mixtures")
    parser.add_argument("--n-test", type=int, default=50, help="tt mixtures")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--sample-rate", type=int, default=8000, choices=SAMPLE_RATES
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a corpus this tool wrote before in OUT_DIR",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = generate(**vars(args))
    except (ValueError, OSError, ImportError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    seconds = time.perf_counter() - start
    stats = corpus_statistics(out)
    audio = stats["audio_hours"] * 3600
    print(format_statistics(stats))
    print(
        f"written in {seconds:.1f} s: {audio / seconds:.0f} s of audio "
        "per second"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
