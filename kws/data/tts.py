"""Text to speech with the eSpeak NG engine bundled in the pip package `espeakng-loader`.

eSpeak NG is a small formant synthesiser: robotic, but fast (hundreds of times faster than real
time on one core) and installable from pip with its voices; started afresh for every utterance
(see `_Engine`), it is deterministic. We call its C library
through `ctypes`, in synchronous mode, with a callback that collects the 16-bit samples.

A `Voice` fixes everything eSpeak lets us choose: a language (accent) such as `en-us`, a variant
(the voice timbre, `m1` ... `f5`, `klatt`, ...), the base pitch, the speaking rate and the pitch
range. `kws.data.synthetic` turns a `Voice` into a "speaker" by adding a little random jitter to
every utterance.

    wave = synthesize("hello world", Voice(language="en-gb-x-rp", variant="f2"))  # (S,) at 16 kHz
"""

from __future__ import annotations

import _ctypes
import ctypes
import functools
import random
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from kws.compat import torchaudio  # checked: says what to install if it fails

SAMPLE_RATE = 16_000

# English accents shipped in espeak-ng-data/lang/gmw (en-shaw, the Shavian alphabet, is left out).
ENGLISH_LANGUAGES = (
    "en",
    "en-us",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)

# Variants that sound like a person (caleb whispers); robots, croaks and the like are left out.
HUMAN_VARIANTS = (
    *(f"m{i}" for i in range(1, 9)),
    *(f"f{i}" for i in range(1, 6)),
    *(f"klatt{i}" for i in ("", "2", "3", "4", "5", "6")),
    "Alex", "Andy", "Annie", "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb",
    "david", "ed", "edward", "grandma", "grandpa", "ian", "john", "linda", "max", "michel",
    "norbert", "paul", "quincy", "rob", "robert", "shelby", "steph", "travis", "victor", "zac",
)  # fmt: skip

# Constants from espeak-ng/speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_LIBC = ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)  # the C library
_unload_library = getattr(_ctypes, "dlclose", None) or _ctypes.FreeLibrary  # POSIX or Windows
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """One eSpeak NG voice setting.

    Args:
        language: eSpeak language (accent) name, e.g. "en-us" or "en-gb-x-rp".
        variant: voice variant from espeak-ng-data/voices/!v, e.g. "m3", "f2", "klatt4".
        pitch: base pitch, 0 ... 100 (eSpeak's default is 50).
        rate: speaking rate in words per minute, 80 ... 450 (default 175).
        pitch_range: intonation range, 0 (monotone) ... 100 (default 50).
    """

    language: str = "en-us"
    variant: str = "m1"
    pitch: int = 50
    rate: int = 175
    pitch_range: int = 50

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("pitch", self.pitch, 0, 100),
            ("rate", self.rate, 80, 450),
            ("pitch_range", self.pitch_range, 0, 100),
        ):
            if not low <= value <= high:
                raise ValueError(f"Voice {name}={value} is out of range; use {low} ... {high}.")

    @property
    def name(self) -> str:
        """The name eSpeak selects the voice by: "language+variant"."""
        return f"{self.language}+{self.variant}"

    def jitter(
        self, rng: random.Random, pitch: int = 4, rate: float = 0.08, pitch_range: int = 8
    ) -> Voice:
        """This voice with pitch ± `pitch`, rate × (1 ± `rate`) and range ± `pitch_range`,
        drawn uniformly from `rng`: one speaker saying one utterance."""
        return replace(
            self,
            pitch=min(100, max(0, self.pitch + rng.randint(-pitch, pitch))),
            rate=min(450, max(80, round(self.rate * (1 + rng.uniform(-rate, rate))))),
            pitch_range=min(100, max(0, self.pitch_range + rng.randint(-pitch_range, pitch_range))),
        )


class _Engine:
    """The eSpeak NG library, loaded afresh for every utterance.

    The synthesiser keeps state in static C variables (pitch flutter, filter memories, the random
    generator for breathy voices) that carry over from one utterance to the next and that
    `espeak_Terminate` does not reset. Unloading and reloading the library (about 4 ms) starts each
    utterance from the same state, so the same text and voice always give the same samples.
    """

    def __init__(self) -> None:
        import espeakng_loader

        self.library_path = espeakng_loader.get_library_path()
        self.data_path = Path(espeakng_loader.get_data_path())
        self.chunks: list[bytes] = []
        # Keep a reference to the callback: ctypes frees it otherwise and eSpeak would crash.
        self.callback = _SynthCallback(self._collect)
        self.lock = threading.Lock()
        self.native_rate = 0
        self._run("a", Voice())  # sets native_rate, the rate eSpeak reports when initialised
        self.resample = torchaudio.transforms.Resample(self.native_rate, SAMPLE_RATE)

    def _collect(self, samples, num_samples: int, events) -> int:
        if num_samples > 0:
            self.chunks.append(ctypes.string_at(samples, 2 * num_samples))
        return 0  # 0 = go on synthesising

    def _run(self, text: str, voice: Voice) -> np.ndarray:
        lib = ctypes.CDLL(self.library_path)
        try:
            lib.espeak_Initialize.argtypes = [
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
            ]  # fmt: skip
            self.native_rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), _INITIALIZE_DONT_EXIT
            )
            if self.native_rate <= 0:
                raise RuntimeError(
                    f"eSpeak NG failed to initialise with data from {self.data_path}."
                )
            lib.espeak_SetSynthCallback(self.callback)
            if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise ValueError(
                    f"eSpeak NG has no voice {voice.name!r}; languages: {ENGLISH_LANGUAGES}, "
                    f"variants: see available_variants()."
                )
            for parameter, value in (
                (_RATE, voice.rate),
                (_PITCH, voice.pitch),
                (_RANGE, voice.pitch_range),
                (_VOLUME, 100),
                (_WORDGAP, 0),
            ):
                lib.espeak_SetParameter(parameter, value, 0)
            lib.espeak_ng_SetRandSeed(0)
            _LIBC.srand(0)  # Klatt voices draw noise from the C library's rand()
            data = text.encode("utf-8") + b"\0"
            self.chunks = []
            status = lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if status != 0:
                raise RuntimeError(f"eSpeak NG failed (error {status}) on text {text!r}.")
            lib.espeak_Terminate()
            return np.frombuffer(b"".join(self.chunks), dtype=np.int16)
        finally:
            handle = lib._handle
            del lib
            _unload_library(handle)

    def synthesize(self, text: str, voice: Voice) -> np.ndarray:
        """int16 samples (S_native,) at the native rate (22,050 Hz)."""
        with self.lock:
            return self._run(text, voice)


_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def synthesize(text: str, voice: Voice = Voice()) -> torch.Tensor:
    """Speak `text` with `voice`: a float32 waveform (S,) in [-1, 1] at 16 kHz.

    Deterministic: the same text and voice give the same samples. Leading and trailing silence
    from eSpeak is kept; see `trim_silence`.
    """
    if not text.strip():
        raise ValueError("synthesize() got an empty text; give at least one word.")
    if voice.variant not in available_variants():
        # eSpeak would silently fall back to its default voice.
        raise ValueError(
            f"eSpeak NG has no voice variant {voice.variant!r}; pick one of available_variants()."
        )
    engine = _get_engine()
    samples = engine.synthesize(text, voice)
    wave = torch.from_numpy(samples.astype(np.float32) / 32768.0)  # (S_native,)
    return engine.resample(wave).clamp_(-1.0, 1.0)  # (S,)


def trim_silence(wave: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """`wave` (S,) without the leading and trailing samples quieter than `threshold`."""
    loud = torch.nonzero(wave.abs() > threshold).flatten()
    if loud.numel() == 0:
        return wave[:0]
    return wave[loud[0] : loud[-1] + 1]


@functools.cache
def available_variants() -> tuple[str, ...]:
    """Names of the voice variants in the bundled espeak-ng-data/voices/!v folder."""
    import espeakng_loader

    folder = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return tuple(sorted(path.name for path in folder.iterdir() if path.is_file()))
