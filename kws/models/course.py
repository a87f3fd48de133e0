"""Parameter tables of the course's architectures (the kit's first command prints them).

The counts printed here are the course's torchinfo figures, asserted in tests/test_classifiers.py:
an encoder layer with d_model 256 / feed-forward 512 has 527,104 parameters, the conv-stem KWS
Transformer 2,147,404 (12 classes) and 2,152,287 (31 classes), the CRNN baseline 1,507,149 and
the HW4 sample model 125,896 (its encoder layer 67,536).
"""

import sys
from typing import TextIO

import torch

from kws.models.classifiers import PRESETS, build_model
from kws.models.transformer import TransformerEncoderLayer
from kws.params import count_parameters, format_count, parameter_table

ONE_SECOND = 16000  # samples: a Speech Commands clip at 16 kHz
HW4_CROP = 128  # frames: the HW4 training crop


def preset_summary() -> str:
    """One line per preset of ``kws.models.build_model``: class and parameter count."""
    lines = [f"{'preset':<24}{'class':<22}{'parameters':>12}"]
    for name, (cls, _) in PRESETS.items():
        count = count_parameters(build_model(name))
        lines.append(f"{name:<24}{cls.__name__:<22}{count:>12,}  ({format_count(count)})")
    return "\n".join(lines)


def course_tables(depth: int = 2) -> str:
    """The parameter tables of the course's architectures, as one printable string."""
    torch.manual_seed(0)
    waveforms = torch.zeros(2, ONE_SECOND)
    features = torch.full((2, HW4_CROP, 40), -20.0)
    parts = []

    layer = TransformerEncoderLayer(d_model=256, nhead=4, dim_feedforward=512)
    parts.append(
        str(
            parameter_table(
                layer,
                torch.zeros(2, 417, 256),
                depth=1,
                title="Encoder layer (d_model 256, feed-forward 512): 527,104 in the course",
            )
        )
    )
    conv_stem = build_model("conv_stem_transformer")
    table = parameter_table(
        conv_stem,
        waveforms,
        depth=depth,
        title="conv_stem_transformer, 12 classes: 2,147,404 in the course (1 s in: 416 + 1 tokens)",
    )
    count_31 = count_parameters(build_model("conv_stem_transformer", n_classes=31))
    parts.append(f"{table}\nWith 31 classes: {count_31:,} parameters (2,152,287 in the course)")
    parts.append(
        str(
            parameter_table(
                build_model("crnn_attention"),
                waveforms,
                depth=depth,
                title="crnn_attention: 1,507,149 in the course",
            )
        )
    )
    hw4 = build_model("hw4_sample")
    table = parameter_table(
        hw4, features, depth=depth, title="hw4_sample (HW4 speaker model): 125,896 in the course"
    )
    encoder_count = count_parameters(hw4.encoder_layer)
    parts.append(
        f"{table}\nThe parameter size of encoder block is {format_count(encoder_count)} "
        f"({encoder_count:,}; 67,536 in the course)"
    )
    parts.append("All presets of kws.models.build_model:\n" + preset_summary())
    return "\n\n".join(parts)


def print_course_tables(depth: int = 2, file: TextIO | None = None) -> None:
    """Print `course_tables` (to stdout unless ``file`` is given)."""
    print(course_tables(depth), file=file or sys.stdout)
