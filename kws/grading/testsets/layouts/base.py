"""The `Layout` protocol: what the grader asks of a kind of grading data, never of an assignment.

An assignment's spec names its data layout (``[data] layout`` in ``spec.toml``): one of the
kit's (``speech_commands``, ``hw4``: one module each beside this one) or a class in a module
of the assignment's own folder (``layout = "layout.py:ToyLayout"``). Every member below is what
the grader's engine calls; a layout answers for a data folder `data` (the grader's ``--data``),
built once per use from the assignment's spec (its ``[data]`` keys: the folders to look in).

    from kws.grading.testsets.layouts import layout_of

    layout = layout_of(spec)                      # the spec's layout, checked
    layout.missing(data)                          # None, or why `data` cannot grade it
    hidden = layout.hidden_test(data, out_file)   # inputs file for the child, labels kept here

A new layout is one module with one subclass of `Layout` (docs/how-to/layouts.md shows one): the
engine needs no edit.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from kws.i18n import N_

if TYPE_CHECKING:
    from kws.grading.testsets.hidden import HiddenTest
    from kws.spec import Spec

SKIP = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".kws_cache"}  # caches, not data
INPUT_KINDS = ("waves", "features")  # the kinds of inputs file kws.grading.protocol.inputs writes


class Layout(abc.ABC):
    """How one kind of grading data is laid out: where its hidden test set is, how to read it,
    which dataset it is, what a re-training must not read and what the Gradescope zip carries.

    Attributes:
        spec: the assignment's spec (`kws.spec.Spec`); ``spec.data`` holds its ``[data]`` keys.
        input_kind: the kind of inputs file `hidden_test` writes and the grading child reads
            (`INPUT_KINDS`, `kws.grading.protocol.inputs`): ``"waves"`` (clips, int16 (N, S)
            with a gain each; the model is called as ``model(waves (B, S))``) or
            ``"features"`` (frames (T, F) per item; ``model(x (B, T, F), lengths (B,))``,
            padded with -20).
        items_name: what the test set's items are called in the results ("clips").

    The abstract members below are the protocol; `retraining_data`, `private_set`,
    `private_set_size`, `graded_items` and `public_test` have defaults.

    Args:
        spec: the assignment's spec.

    Example:
        ```python
        class PointsLayout(Layout):  # layout.py; spec.toml: layout = "layout.py:PointsLayout"
            input_kind = "features"

            def hidden_test(self, data, out_file):
                ...  # save_feature_inputs(out_file, ...) in a secret_permutation order
                return HiddenTest(inputs_file=out_file, labels=..., classes=..., ids=...)
        ```
    """

    input_kind: ClassVar[str]
    items_name: ClassVar[str] = N_("items")  # what the results call the test set's items
    synthetic: ClassVar[str | None] = None  # `kws synth`'s name of its synthetic twin, if any

    def __init__(self, spec: Spec):
        self.spec = spec

    @abc.abstractmethod
    def missing(self, data: Path) -> str | None:
        """Why `data` cannot grade the assignment (its hidden test set is absent), or None."""

    @abc.abstractmethod
    def hidden_test(self, data: Path, out_file: Path) -> HiddenTest:
        """Read the hidden test set under `data`: write its inputs, unlabelled and in a fresh
        secret order (`kws.grading.testsets.hidden.secret_permutation`), to `out_file` as
        `input_kind` (`kws.grading.protocol.inputs`: ``save_wave_inputs``, ``save_clip_inputs``
        or ``save_feature_inputs``); return the labels in that order (`HiddenTest`). Runs in
        the grader's process only: the labels never reach the child; the kit's layouts read
        their data without torch there (numpy, soundfile), so that the grader stays small.

        A layout may take a keyword ``sample: int | None = None`` besides: then it writes the
        inputs of a secret random sample of that many items only
        (`kws.grading.testsets.hidden.secret_sample`) and gives every item's label by its Id in
        ``HiddenTest.test_labels``. An assignment whose accuracy comes from the hand-in's
        predictions.csv (``[accuracy]`` in its spec) needs a layout that does.

        A layout whose test set is public may mark some inputs private
        (``HiddenTest.private``: clips the students do not have, shuffled in among the public
        ones): then the grade is the accuracy on those, and the public ones only serve to flag
        a model that knows them (`kws.grading.judge.public_gap`), as ``speech_commands`` does with a
        ``<test folder>_private/`` folder."""

    @abc.abstractmethod
    def detect(self, data: Path) -> str | None:
        """The name of the dataset under `data` when the layout recognises it (an entry of the
        spec's ``[tiers]``: the accuracy tiers it is graded against), else None."""

    def synthetic_name(self, preset: str, private: bool) -> str | None:
        """The name `detect` gives the kit's synthetic twin of `preset` (``kws synth``), with
        its private test set (`private`, ``kws private``) or without; None for a layout the
        kit makes no synthetic data of. What ``kws rehearse`` checks the tiers of before it
        starts."""
        return None

    @abc.abstractmethod
    def test_set_size(self, data: Path) -> int:
        """The size of the test set `hidden_test` reads in `data` (0 without one), in the units
        the cost of grading grows with (clips, frames): the spec's ``[grading]`` gives the
        grading child's seconds for a measured size in the same units."""

    @abc.abstractmethod
    def grading_files(self, data: Path) -> tuple[list[tuple[Path, str]], list[str]]:
        """What the Gradescope zip needs to grade: [(file, its name in the zip, under ``data/``)]
        of the test data `hidden_test` reads (labels included; no training data), and the names
        of (empty) folders the zip needs besides. ([], []) when `data` has no test set."""

    def test_set_items(self, data: Path) -> int:
        """How many items the test set in `data` holds (0 without one): what a sample is drawn
        from (``hidden_test(..., sample=n)``); by default `test_set_size`, for a layout whose
        size is counted in items."""
        return self.test_set_size(data)

    def private_set(self, data: Path) -> Path | None:
        """Where the private test set in `data` is (data the students never had, graded in
        place of the public test set: `HiddenTest.private`), or None when `data` holds none;
        by default None: a layout without one is graded on its public test set, which the
        grader says to the instructor and every student."""
        return None

    def private_set_size(self, data: Path) -> int:
        """The private test set's part of `test_set_size` (0 without one): graded whole, while
        a sample (``hidden_test(..., sample=n)``) is drawn from the rest."""
        return 0

    def graded_items(self, data: Path) -> int:
        """How many items of `data` the accuracy is graded on (0 without a test set): what the
        Kaggle rule splits (`kws.grading.testsets.split`); by default the private test set's
        when there is one (`private_set_size`: the public sample beside it only measures the
        gap), else `test_set_items`."""
        return self.private_set_size(data) or self.test_set_items(data)

    def public_test(self, data: Path, out_file: Path, count: int) -> HiddenTest:
        """The student's own copy of the test set under `data` (their ``DATA_DIR``), for
        ``kws handin``, which checks a hand-in as the grader reads it before it is handed in:
        the inputs of `count` test items (`input_kind`, as `hidden_test` writes them), and
        every test item's Id where a predictions.csv must list them (``test_labels``), with no
        labels (-1; ``labelled`` False). Never given the grader's data.

        By default `hidden_test` on `data` (a sample of `count` when it takes ``sample``),
        its labels dropped: right for a test set students have whole (Speech Commands' test
        folders). A layout whose test labels students never have reads its public listing
        instead (``hw4``: ``testdata.json``)."""
        import dataclasses
        import inspect

        if "sample" in inspect.signature(self.hidden_test).parameters:
            hidden = self.hidden_test(data, out_file, sample=count)
        else:
            hidden = self.hidden_test(data, out_file)
        return dataclasses.replace(
            hidden,
            labels=[-1] * len(hidden.labels),
            test_labels=dict.fromkeys(hidden.test_labels, -1),
            private=[False] * len(hidden.labels),
            labelled=False,
        )

    @abc.abstractmethod
    def label_folders(self, data: Path) -> list[Path]:
        """The folders a re-training child must not read: where the hidden labels are."""

    def retraining_data(self, data: Path, hidden: HiddenTest, root: Path) -> Path:
        """The data folder a re-training child reads (`root`: a fresh folder to fill): links
        to what the notebook needs of `data` and nothing else, for the sandbox binds only
        what they lead to (`kws.grading.sandbox.allow`). By default the spec's ``[data]
        folder`` (the notebook's ``DATA_DIR``), or when that is all of `data`, each of its
        entries but the label folders and the hidden ones (``.name``: caches)."""
        folder = self.spec.data.get("folder", "")
        if folder:
            return link_into(root, [data / folder])
        labels = {p.name for p in self.label_folders(data)}
        return link_into(root, [e for e in sorted(data.iterdir()) if e.name not in labels])


def link_into(root: Path, entries: list[Path]) -> Path:
    """`root`, made, with a link to each of `entries` that exists under its own name, but the
    hidden ones (``.name``); the data a re-training reads (`Layout.retraining_data`)."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the child may run as another user
    for entry in entries:
        if entry.exists() and not entry.name.startswith("."):
            (root / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return root


def files_to_zip(folder: Path) -> list[Path]:
    """The files under `folder`, sorted, without caches (`SKIP`) and compiled Python: what the
    Gradescope zip takes of a data folder or of the kit."""
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not SKIP.intersection(p.parts) and p.suffix != ".pyc"
    ]
