"""Named presets of the full classifiers, ``build_model``, and configs as JSON-able dicts.

>>> model = build_model("conv_stem_transformer", n_classes=31)
>>> model.config.d_model
256
>>> from_config(model_config(model)).config == model.config
True

Every model keeps its frozen dataclass config in ``model.config`` and the preset it was built
from in ``model.preset``; `model_config` turns both into a dict that ``json.dump`` can write
(checkpoints store it next to the weights) and `from_config` builds the same architecture
back from that dict.
"""

import dataclasses
import typing
from typing import Any

from torch import nn

from kws.models.crnn import CRNNAttention
from kws.models.keyword_conformer import KeywordConformer
from kws.models.keyword_models import ConvStemTransformer, KeywordTransformer, PatchTransformer
from kws.models.speaker_models import HW4Sample, SpeakerConformer, SpeakerTransformer

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in [
        ConvStemTransformer,
        KeywordTransformer,
        PatchTransformer,
        KeywordConformer,
        CRNNAttention,
        HW4Sample,
        SpeakerTransformer,
        SpeakerConformer,
    ]
}

# name -> (model class, settings that differ from the class's config defaults)
PRESETS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    # Keyword spotting (waveform in).
    "conv_stem_transformer": (ConvStemTransformer, {}),
    "crnn_attention": (CRNNAttention, {}),
    "kwt1": (KeywordTransformer, {"dim": 64, "depth": 12, "heads": 1, "mlp_dim": 256}),
    "kwt2": (KeywordTransformer, {"dim": 128, "depth": 12, "heads": 2, "mlp_dim": 512}),
    "kwt3": (KeywordTransformer, {"dim": 192, "depth": 12, "heads": 3, "mlp_dim": 768}),
    # A small KWT for CPU demos and CI: 40 MFCC tokens, 2 layers of width 64.
    "kwt_tiny": (
        KeywordTransformer,
        {"dim": 64, "depth": 2, "heads": 2, "mlp_dim": 128, "dropout": 0.0},
    ),
    "patch_transformer": (PatchTransformer, {"patchout_time": 2, "patchout_freq": 1}),
    # The reference for real speech: conv stem -> 26 tokens -> 4 Conformer blocks of width 96.
    "kws_conformer": (KeywordConformer, {}),
    # Speaker identification (HW4 features in).
    "hw4_sample": (HW4Sample, {}),
    "speaker_transformer": (SpeakerTransformer, {}),
    "speaker_conformer": (SpeakerConformer, {}),
}


def _make_config(cls: type[nn.Module], settings: dict[str, Any]):
    config_class = cls.config_class
    fields = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no setting {', '.join(unknown)}; its settings are "
            f"{', '.join(sorted(fields))}"
        )
    # JSON turns tuples into lists: turn them back so configs stay hashable and comparable.
    hints = typing.get_type_hints(config_class)
    settings = {
        key: tuple(value)
        if isinstance(value, list) and typing.get_origin(hints[key]) is tuple
        else value
        for key, value in settings.items()
    }
    return config_class(**settings)


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build the preset ``name`` (see ``PRESETS``), with any config field overridden.

    >>> build_model("kwt_tiny", n_classes=35, dim=96, heads=3)  # doctest: +SKIP

    Raises:
        ValueError: unknown preset name or unknown setting (the message lists the valid ones),
            or a bad setting (e.g. ``d_model`` not divisible by ``nhead``).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    cls, preset = PRESETS[name]
    model = cls(_make_config(cls, {**preset, **overrides}))
    model.preset = name
    return model


def model_config(model: nn.Module) -> dict[str, Any]:
    """A JSON-able description of ``model``'s architecture: ``{"class", "preset", "config"}``."""
    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config) or type(model).__name__ not in MODEL_CLASSES:
        raise ValueError(
            f"{type(model).__name__} is not a kws.models classifier with a dataclass config; "
            f"build it with kws.models.build_model"
        )
    return {
        "class": type(model).__name__,
        "preset": getattr(model, "preset", None),
        "config": dataclasses.asdict(config),
    }


def from_config(description: dict[str, Any]) -> nn.Module:
    """Build a fresh (untrained) model from a `model_config` dict."""
    class_name = description.get("class")
    if class_name not in MODEL_CLASSES:
        raise ValueError(
            f"unknown model class {class_name!r} in the config; expected one of "
            f"{', '.join(MODEL_CLASSES)} (was the checkpoint written by a newer kws?)"
        )
    cls = MODEL_CLASSES[class_name]
    model = cls(_make_config(cls, dict(description.get("config", {}))))
    model.preset = description.get("preset")
    return model
