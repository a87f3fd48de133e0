"""kws.data: audio I/O, Speech Commands, HW4 speaker features, synthetic datasets, caches.

The names below are imported from their modules when first used (``from kws.data import
SpeakerFeatures`` works as ever), so importing one torch-free module of the package
(`kws.data.audio`'s `read_audio`, `kws.data.tensor_file`, `kws.data.speaker_format`) does not
import torch: the grader's own process reads test sets with them and never imports torch.
"""

import importlib

_EXPORTS = {
    "kws.data.audio": ("load_wav", "pad_or_trim"),
    "kws.data.augment": ("WaveAugment",),
    "kws.data.batches": ("ClipBatches", "FeatureBatches"),
    "kws.data.cache": (
        "ClipCache",
        "FeatureCache",
        "NoiseBank",
        "add_silence",
        "cache_clips",
        "cache_features",
        "cache_noise",
    ),
    "kws.data.download": ("ChecksumError", "download", "safe_extract"),
    "kws.data.speaker_features": (
        "SpeakerFeatures",
        "build_speaker_features",
        "collate_features",
        "load_features",
        "write_predictions_csv",
    ),
    "kws.data.speaker_format": ("read_test_labels",),
    "kws.data.speech_commands": (
        "Clip",
        "EmptySplitError",
        "SpeechCommands",
        "download_speech_commands",
        "load_background_noise",
        "load_item",
        "which_set",
    ),
    "kws.data.synthetic": ("make_speaker_features", "make_speech_commands"),
    "kws.data.tts": ("Voice", "synthesize"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'kws.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
