"""Grading without a private test set, said where the instructor and every student read it
(`warning`), and which data students get and which stays with the grader (`handout`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kws.grading.testsets.layouts import layout_of
from kws.i18n import gettext as _
from kws.spec import ASSIGNMENTS

PUBLIC_ONLY = "graded on a public test set: accuracy can be carried in"


def make_private_command(data: Path | str) -> str:
    """The one command that writes the private test sets of every notebook `data` holds."""
    return f"kws private {data} --secret FILE"


# How students get the data of each built-in layout, for `handout`.
BUILT_IN_DATA = {
    "speech_commands": "students download Speech Commands in the notebooks",
    "hw4": "students get the HW4 folder from you: hand out the speaker_features_students/ folder "
    f"that `{make_private_command('DATA')}` writes (utterances of every speaker held back)",
}


def public_only(data: Path, assignments: Iterable[str] | None = None) -> list[str]:
    """Those of `assignments` (default: every one) whose test set is in `data` without a private
    test set beside it, sorted."""
    found = []
    for name in ASSIGNMENTS if assignments is None else assignments:
        if ASSIGNMENTS[name].written_only:  # no test set at all: nothing carried in
            continue
        layout = layout_of(ASSIGNMENTS[name])
        if layout.missing(data) is None and layout.private_set(data) is None:
            found.append(name)
    return sorted(found)


def warning(names: Iterable[str], data: Path | str | None = None) -> str:
    """The sentence that says the notebooks `names` are `PUBLIC_ONLY`, with the command that
    makes their private test sets: in the data folder `data` for the instructor, or without
    `data` as every student's results say it (no path of the grading machine)."""
    notebooks = ", ".join(ASSIGNMENTS[name].notebook for name in names)
    said = (
        _("Warning: {notebooks} graded on a public test set: accuracy can be carried in (the "
          "students have its test set, so a model can hold its answers; a private test set is "
          "data they never had). Make one with: {command}")
        if data is not None
        else _("Warning: {notebooks} graded on a public test set: accuracy can be carried in "
               "(the students have its test set, so a model can hold its answers; a private "
               "test set is data they never had). The course staff make one with: {command}")
    )  # fmt: skip
    command = make_private_command(data if data is not None else "DATA")
    return said.format(notebooks=notebooks, command=command)


def command_warning(
    data: Path, assignment: str | None = None, graded: Iterable[str] | None = None
) -> str | None:
    """What `kws grade` and `kws gradescope` print first: the `warning` for the notebooks of
    the selection (`assignment`, else those `graded`, else every one) that `data` holds without a
    private test set, naming `data` in the command; None when each has one."""
    names = [assignment] if assignment else graded
    found = public_only(Path(data), None if names is None else list(names))
    return warning(found, data) if found else None


def handout(data: str | Path | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Which data the students get and which stays with the grader, as lines to print after the
    bundle of the assignments `names` (default: every one): for the grader's data folder `data`,
    by its folders (each notebook's private test set,
    `kws.grading.testsets.layouts.base.Layout.private_set`, or the warning that it has none);
    without `data`, how `kws private` makes them."""
    specs = {name: ASSIGNMENTS[name] for name in (ASSIGNMENTS if names is None else names)}

    if data is None:
        layouts = {str(spec.data.get("layout")) for spec in specs.values()}
        gets = [said for layout, said in BUILT_IN_DATA.items() if layout in layouts]
        gets += [
            f"{spec.notebook}: {spec.data.get('how_to_get') or 'its data, from you'}"
            for spec in specs.values()
            if str(spec.data.get("layout")) not in BUILT_IN_DATA
        ]
        return [
            f"the data: {'; '.join(gets)}; keep DATA, with its private test sets and hidden "
            "labels, with the grader (`kws release bundle OUT --data DATA` names the folders)"
        ]
    data, folders, kept, public = Path(data), [], set(), []
    for name, spec in specs.items():
        layout = layout_of(spec)
        if layout.missing(data) is not None:
            continue
        kept |= {p for p in layout.label_folders(data) if p.exists()}
        private = layout.private_set(data)
        if private is None:
            public.append(name)
        else:
            kept.add(private)
        if spec.data.get("folder"):  # a folder handed out (else the notebook downloads its data)
            folders.append(spec.data["folder"])
    given = [_given(data, folder, kept) for folder in folders]
    lines = []
    if given:
        lines.append(f"hand out to students: {', '.join(dict.fromkeys(given))}")
    if kept:
        lines.append(f"keep with the grader, never hand out: {', '.join(map(str, sorted(kept)))}")
    if public:
        lines.append(warning(public, data))
    return lines


def _given(data: Path, folder: str, kept: set[Path]) -> str:
    """What to hand out of `data` for a notebook whose DATA_DIR is `data`/`folder` (the part
    students get, `students_folder`), as words: that folder, or when it holds one of the `kept`
    folders (a private test set, hidden labels), its other entries, one by one."""
    from kws.data.speaker_private import students_folder

    given = students_folder(data / folder)
    inside = [k for k in kept if k.resolve().is_relative_to(given.resolve())]
    if not inside:
        return f"{given} (as the notebook's {folder or '.'}/)"
    entries = [
        str(entry)
        for entry in sorted(given.iterdir())
        if not entry.name.startswith(".")
        and not any(k.resolve().is_relative_to(entry.resolve()) for k in inside)
    ]
    return f"{', '.join(entries)} (in the notebook's {folder or '.'}/)"
