"""Data layouts: how an assignment's grading data is laid out, read from its spec's ``[data]
layout``: a kit's layout (`BUILT_IN`) or a class in the assignment's own folder
(docs/how-to/layouts.md). The engine asks the layout, never the assignment's name.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from kws.grading.testsets.hidden import HiddenTest
from kws.grading.testsets.layouts.base import INPUT_KINDS, Layout
from kws.grading.testsets.layouts.hw4 import HW4Layout
from kws.grading.testsets.layouts.speech_commands import SpeechCommandsLayout
from kws.spec import Spec, SpecError

BUILT_IN = {"speech_commands": SpeechCommandsLayout, "hw4": HW4Layout}  # by the spec's name
PUBLIC_INPUTS = 8  # test items `kws handin` runs a model on: a forward pass, not an accuracy
OWN_LAYOUT = re.compile(r"(\w+)\.py:(\w+)")  # a module of the assignment's folder, and its class


def layout_class(spec: Spec) -> type[Layout]:
    """The class of `spec`'s data layout ([data] layout): a built-in one by name, or the class
    ``<Class>`` of the module ``<file>.py`` in the assignment's folder; SpecError naming the fix."""
    name = spec.layout
    if name in BUILT_IN:
        return BUILT_IN[name]
    own = OWN_LAYOUT.fullmatch(name)
    if not own:
        raise SpecError(
            f"{spec.path}: [data] layout = {name!r} is not one the grader reads; use one of "
            f'{", ".join(sorted(BUILT_IN))}, or "<file>.py:<Class>" for a layout in the '
            "assignment's own folder (docs/how-to/layouts.md)"
        )
    module, class_name = spec.module(own[1]), own[2]  # SpecError when the file is missing
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, Layout)):
        raise SpecError(
            f"{spec.path}: [data] layout = {name!r}: {spec.folder / own[1]}.py has no class "
            f"{class_name} derived from kws.grading.testsets.layouts.Layout"
        )
    return found


def layout_of(spec: Spec) -> Layout:
    """The reader of `spec`'s data ([data] layout), checked against the `Layout` protocol;
    SpecError naming the spec, the layout and what it lacks."""
    cls = layout_class(spec)
    if getattr(cls, "input_kind", None) not in INPUT_KINDS:
        raise SpecError(
            f"{spec.path}: [data] layout {cls.__name__} declares no input_kind; set input_kind "
            f"to one of {', '.join(map(repr, INPUT_KINDS))} (the inputs file its hidden_test "
            "writes)"
        )
    try:
        return cls(spec)
    except TypeError as error:  # an abstract member left out: Layout names it
        raise SpecError(f"{spec.path}: [data] layout {cls.__name__}: {error}") from None


def public_test(spec: Spec, data: Path, out_file: Path) -> HiddenTest:
    """`spec`'s test set in a student's own data folder `data` (what the notebook's ``DATA_DIR``
    lies in), read by its layout (`Layout.public_test`): the inputs of `PUBLIC_INPUTS` test
    items for the child and every item's Id, without labels (``labelled`` False). What
    ``kws handin`` grades a hand-in on before it is handed in; ValueError naming the layout
    when what it wrote is not the inputs file it declares."""
    layout = layout_of(spec)
    public = layout.public_test(data, out_file, PUBLIC_INPUTS)
    return _declared_inputs(spec, layout, public, "public_test", "item")


def hidden_test(spec: Spec, data: Path, out_file: Path) -> HiddenTest:
    """`spec`'s hidden test set under `data`, read by its layout: the inputs file `out_file` for
    the child (a secret sample of ``[accuracy] sample`` items when the accuracy comes from
    predictions.csv), the labels kept here; ValueError naming the layout when what it wrote is
    not the inputs file it declares (its kind, one label per input), SpecError when it cannot
    write a sample that the spec asks for."""
    layout = layout_of(spec)
    sample = {"sample": spec.accuracy.sample} if spec.accuracy.from_csv else {}
    if sample and "sample" not in inspect.signature(layout.hidden_test).parameters:
        raise SpecError(
            f'{spec.path}: [accuracy] source = "predictions.csv" needs a layout that '
            f"writes a sample of its test set; the {spec.layout} layout's hidden_test takes "
            "no `sample` (docs/how-to/layouts.md)"
        )
    hidden = layout.hidden_test(data, out_file, **sample)
    return _declared_inputs(spec, layout, hidden, "hidden_test", "label")


def _declared_inputs(
    spec: Spec, layout: Layout, test: HiddenTest, method: str, per: str
) -> HiddenTest:
    """`test`, once its inputs file is what `layout` declares: its ``input_kind``, one input
    per label; else ValueError naming the layout and its `method` (each input one `per`)."""
    from kws.grading.protocol.inputs import inputs_header

    header = inputs_header(test.inputs_file)
    if header["kind"] != layout.input_kind or len(header["lengths"]) != len(test.labels):
        raise ValueError(
            f"the {spec.layout} layout of {spec.path} wrote {len(header['lengths'])} "
            f"{header['kind']} inputs for {len(test.labels)} {per}s; its {method} must write "
            f"{layout.input_kind} inputs, one per {per}"
        )
    return test
