"""The `kws` command's verbs in five groups by workflow (`kws.cli.GROUPS`), each verb declared by
the package that does its job: the regrouping changed no verb, argument, option, default or
choice (`kws handin`, the students' group, came after it), `kws --help` lists the groups in
order, and answers without loading torch."""

import os
import subprocess
import sys
from pathlib import Path

from kws.cli import build_parser
from kws.spec import ASSIGNMENTS

ASSIGNMENT_NAMES = tuple(sorted(ASSIGNMENTS))  # --assignment: every assignment the kit knows

# Every argument of every verb, as `build_parser()` accepted them before the verbs were grouped
# (written out from that parser), and those added since (grade's and season's --file-times,
# issue 52; `kws handin`; --strict and `kws rehearse`, issue 59; `kws mark`, issue 68; `kws assign`
# and `kws reference`, issue 67; grade's and season's --accept-future-times, issue 84): (verb, option strings (none: a positional), dest, default, choices,
# required, nargs, type's name). A change here changes what users type.
ARGUMENTS = [
    ("adjust", (), "assignment", None, None, True, None, None),
    ("adjust", (), "grades", None, None, True, None, "Path"),
    ("adjust", (), "points", None, None, True, None, None),  # read as typed (+2,5: the fix)
    ("adjust", ("--reason",), "reason", None, None, True, None, None),
    ("adjust", (), "student", None, None, True, None, None),
    ("adjust", ("--who",), "who", None, None, False, None, None),
    ("adjust", ("--wait",), "wait", False, None, False, 0, None),  # one writer at a time
    ("override", (), "grades", None, None, True, None, "Path"),  # issue 86
    ("override", (), "student", None, None, True, None, None),
    ("override", (), "test", None, None, True, None, None),
    ("override", (), "points", None, None, False, "?", None),  # none with --withdraw
    ("override", ("--withdraw",), "withdraw", False, None, False, 0, None),
    ("override", ("--reason",), "reason", None, None, True, None, None),
    ("override", ("--who",), "who", None, None, False, None, None),
    ("override", ("--wait",), "wait", False, None, False, 0, None),
    ("requests", (), "action", None, ("import", "list", "answer"), True, "A...", None),
    ("assign", ("--check",), "check", False, None, False, 0, None),
    ("assign", ("--course",), "course", None, None, False, None, "Path"),
    ("demo", ("--language",), "language", None, None, False, None, "language_option"),
    ("mark", ("--graders",), "graders", None, None, False, None, "Path"),
    ("release", ("--course",), "course", None, None, False, None, "Path"),
    ("assign", (), "names", None, None, True, "*", None),
    ("demo", ("--no-grade",), "no_grade", False, None, False, 0, None),
    ("demo", ("--one-at-a-time",), "one_at_a_time", False, None, False, 0, None),
    ("demo", ("--out",), "out", Path("kws-demo"), None, False, None, "Path"),
    ("demo", ("--preset",), "preset", "small", ("tiny", "small", "full"), False, None, None),
    ("demo", ("--seed",), "seed", 0, None, False, None, "int"),
    ("export", ("--assignment",), "assignment", None, None, False, None, None),
    ("export", ("--column",), "column", None, None, False, None, None),
    ("export", (), "grades", None, None, True, None, "Path"),
    ("export", ("--id-column",), "id_column", None, None, False, None, None),
    ("export", (), "lms", None, ("canvas", "moodle"), True, None, None),
    ("export", ("--missing",), "missing", "zero", ("zero", "blank"), False, None, None),
    (
        "export",
        ("--open-requests",),
        "open_requests",
        "refuse",
        ("refuse", "keep"),
        False,
        None,
        None,
    ),  # issue 86
    ("export", ("--out",), "out", None, None, False, None, "Path"),
    ("export", ("--roster",), "roster", None, None, False, None, "Path"),
    ("export", ("--roster-key",), "roster_key", None, None, False, None, None),
    ("export", ("--scale-to",), "scale_to", None, None, False, None, "float"),
    ("export", ("--unmarked",), "unmarked", "refuse", ("refuse", "zero"), False, None, None),
    ("feedback", (), "grades", None, None, True, None, "Path"),
    ("feedback", ("--moodle",), "moodle", None, None, False, None, "Path"),
    ("feedback", ("--notebooks",), "notebooks", None, None, False, None, "Path"),
    ("feedback", ("--out",), "out", Path("feedback"), None, False, None, "Path"),
    ("feedback", ("--roster-key",), "roster_key", None, None, False, None, None),
    ("handin", ("--data",), "data", None, None, False, None, "Path"),
    ("mark", (), "grades", None, None, True, None, "Path"),
    ("mark", ("--grader",), "grader", None, None, False, None, None),
    ("mark", ("--open",), "open", False, None, False, 0, None),
    ("mark", ("--port",), "port", 0, None, False, None, "int"),
    ("mark", ("--solutions",), "solutions", None, None, False, None, "Path"),
    ("mark", ("--submissions",), "submissions", None, None, False, None, "Path"),
    (
        "marks",
        (),
        "action",
        None,
        ("restore", "restart", "import"),
        True,
        "A...",
        None,
    ),  # kws marks ...
    ("handin", ("--out",), "out", None, None, False, None, "Path"),
    ("handin", (), "path", None, None, True, None, "Path"),
    ("grade", ("--assignment",), "assignment", None, ASSIGNMENT_NAMES, False, None, None),
    ("grade", ("--course",), "course", None, None, False, None, "Path"),
    ("grade", ("--data",), "data", None, None, False, None, "Path"),
    ("grade", ("--dataset",), "dataset", None, None, False, None, None),
    ("grade", ("--file-times", "--no-file-times"), "file_times", None, None, False, 0, None),
    ("grade", ("--accept-future-times",), "accept_future_times", False, None, False, 0, None),
    ("grade", ("--strict",), "strict", False, None, False, 0, None),
    ("grade", ("--jobs",), "jobs", 2, None, False, None, "int"),
    ("grade", ("--out",), "out", Path("grades"), None, False, None, "Path"),
    ("grade", ("--roster",), "roster", None, None, False, None, "Path"),
    ("grade", ("--roster-key",), "roster_key", None, None, False, None, None),
    ("grade", ("--shard",), "shard", None, None, False, None, None),
    ("grade", ("--student",), "student", None, None, False, None, None),
    ("grade", (), "submissions", None, None, True, None, "Path"),
    ("grade", ("--tiers",), "tiers", None, None, False, None, "Path"),
    ("grade", ("--wait",), "wait", False, None, False, 0, None),  # one writer at a time
    ("grade", ("--timeout",), "timeout", 3600.0, None, False, None, "float"),
    ("grade", ("--times",), "times", None, None, False, None, "Path"),
    ("gradescope", ("--assignment",), "assignment", None, ASSIGNMENT_NAMES, False, None, None),
    ("gradescope", ("--course",), "course", None, None, False, None, "Path"),
    ("gradescope", ("--strict",), "strict", False, None, False, 0, None),
    ("gradescope", ("--cpu",), "cpu", 0.5, (0.5, 1.0, 2.0, 4.0), False, None, "float"),
    ("gradescope", ("--data",), "data", None, None, True, None, "Path"),
    ("gradescope", ("--dataset",), "dataset", None, None, False, None, None),
    ("gradescope", ("--out",), "out", Path("autograder.zip"), None, False, None, "Path"),
    ("gradescope", ("--tiers",), "tiers", None, None, False, None, "Path"),
    ("merge", (), "grades", None, None, True, None, "Path"),
    ("merge", ("--wait",), "wait", False, None, False, 0, None),  # one writer at a time
    ("private", (), "data", None, None, True, None, "Path"),
    ("private", ("--noise",), "noise", None, None, False, None, "Path"),
    ("private", ("--per-speaker",), "per_speaker", None, None, False, None, "int"),
    ("private", ("--secret",), "secret", None, None, True, None, "Path"),
    ("private", ("--share",), "share", None, None, False, None, "float"),
    (
        "private",
        ("--speaker-folder",),
        "speaker_folder",
        "speaker_features",
        None,
        False,
        None,
        None,
    ),
    (
        "private",
        ("--test-folder",),
        "test_folder",
        "speech_commands_test_set_v0.02",
        None,
        False,
        None,
        None,
    ),
    ("rehearse", (), "course", None, None, True, None, "Path"),
    ("rehearse", ("--out",), "out", Path("rehearsal"), None, False, None, "Path"),
    ("rehearse", ("--jobs",), "jobs", 2, None, False, None, "int"),
    ("rehearse", ("--roster",), "roster", None, None, False, None, "Path"),
    ("rehearse", ("--roster-key",), "roster_key", None, None, False, None, None),
    ("rehearse", ("--strict",), "strict", False, None, False, 0, None),
    ("reference", ("--data",), "data", None, None, True, None, "Path"),
    ("reference", ("--dataset",), "dataset", None, None, False, None, None),
    ("reference", ("--jobs",), "jobs", 2, None, False, None, "int"),
    ("reference", (), "names", None, None, True, "*", None),
    ("reference", ("--out",), "out", Path("reference"), None, False, None, "Path"),
    ("reference", ("--preset",), "preset", "tiny", None, False, None, None),
    ("reference", ("--seeds",), "seeds", [0, 1, 2], None, False, "+", "int"),
    ("reference", ("--write-tiers",), "write_tiers", False, None, False, 0, None),
    ("release", ("--data",), "data", None, None, False, None, "Path"),
    ("release", ("--check",), "check", False, None, False, 0, None),
    ("release", ("--force",), "force", False, None, False, 0, None),
    ("release", ("--kit-url",), "kit_url", None, None, False, None, None),
    ("release", (), "paths", None, None, True, "+", "Path"),
    ("release", ("--solutions",), "solutions", None, None, False, None, "Path"),
    ("report", (), "grades", None, None, True, None, "Path"),
    ("report", ("--jobs",), "jobs", 2, None, False, None, "int"),
    ("report", ("--out",), "out", None, None, False, None, "Path"),
    ("report", ("--reference-threshold",), "reference_threshold", None, None, False, None, "float"),
    ("report", ("--skeletons",), "skeletons", None, None, False, None, "Path"),
    ("report", ("--solutions",), "solutions", None, None, False, None, "Path"),
    ("report", ("--submissions",), "submissions", None, None, False, None, "Path"),
    ("report", ("--threshold",), "threshold", None, None, False, None, "float"),
    ("season", ("--course",), "course", None, None, False, None, "Path"),
    ("season", ("--file-times", "--no-file-times"), "file_times", None, None, False, 0, None),
    ("season", ("--accept-future-times",), "accept_future_times", False, None, False, 0, None),
    ("season", ("--strict",), "strict", False, None, False, 0, None),
    ("season", ("--wait",), "wait", False, None, False, 0, None),  # one writer at a time
    ("season", (), "grades", None, None, True, None, "Path"),
    ("season", ("--times",), "times", None, None, False, None, "Path"),
    ("synth", (), "dataset", None, ("speech-commands", "speaker-features"), True, None, None),
    ("synth", ("--overwrite",), "overwrite", False, None, False, 0, None),
    ("synth", ("--preset",), "preset", "small", ("tiny", "small", "full"), False, None, None),
    ("synth", (), "root", None, None, True, None, "Path"),
    ("synth", ("--seed",), "seed", 0, None, False, None, "int"),
    ("tables", ("--depth",), "depth", 2, None, False, None, "int"),
    ("train", ("--batch-size",), "batch_size", None, None, False, None, "int"),
    ("train", ("--data",), "data", None, None, True, None, "Path"),
    ("train", ("--device",), "device", "auto", None, False, None, None),
    ("train", ("--eval-every",), "eval_every", None, None, False, None, "int"),
    ("train", ("--full",), "full", False, None, False, 0, None),
    ("train", ("--lr",), "lr", None, None, False, None, "float"),
    ("train", ("--out",), "out", Path("runs"), None, False, None, "Path"),
    ("train", (), "recipe", None, None, True, None, None),
    ("train", ("--resume",), "resume", False, None, False, 0, None),
    ("train", ("--seed",), "seed", 0, None, False, None, "int"),
    ("train", ("--set",), "set", [], None, False, None, None),
    ("train", ("--steps",), "steps", None, None, False, None, "int"),
    ("train", ("--test-set",), "test_set", None, None, False, None, "Path"),
]

# Each verb's one-line help, as `kws --help` showed it before the grouping (`handin`, `mark`: since).
VERB_HELP = {
    "handin": "check a hand-in the way the grader reads it, and write the zip to upload",
    "demo": "synthetic data -> reference notebooks -> grader -> score table",
    "tables": "parameter tables of the course architectures",
    "train": "train a reference recipe or a model preset on a data folder",
    "synth": "write an offline synthetic dataset",
    "release": "the student bundle (release bundle OUT), or the student notebooks (release "
    "notebooks)",
    "assign": "an assignment of your own: its graded tests and student notebook, from its spec "
    "and solution notebook",
    "reference": "the course's solutions run at a budget over seeds, graded, and tiers set from "
    "them",
    "grade": "grade a folder of submissions into a gradebook",
    "merge": "merge the shards `kws grade --shard I/N` wrote into one gradebook",
    "export": "the gradebook as the CSV Canvas or Moodle imports",
    "gradescope": "build the Gradescope autograder zip",
    "private": "write the private test sets graded in place of the public ones (students never "
    "have them)",
    "report": "the class report (HTML) and similarity flags of a graded folder",
    "feedback": "a feedback page per student and notebook (HTML), and a zip per student",
    "season": "apply the course file (deadlines, late rule) and adjustments again",
    "rehearse": "play a course file's whole season on a synthetic class before it starts",
    "adjust": "a person's change to one student's grade",
    "override": "a person's points for one autograded test of one student",
    "requests": "students' regrade requests: import them from a form's CSV, list the open "
    "ones, answer them",
    "mark": "mark the written answers, question by question, in a page of your browser",
    "marks": "the written answers' marks: rebuild them from their history, or start them "
    "afresh, or import them from a CSV file",
}

# The headings of `kws --help` and their verbs, in order.
GROUPS = [
    ("hand in (students)", ["handin"]),
    ("try the kit", ["demo", "tables", "train", "synth"]),
    ("prepare a course", ["assign", "reference", "release", "private", "gradescope", "rehearse"]),
    ("grade", ["grade", "merge", "report", "feedback", "mark"]),
    (
        "the season (deadlines, late work, adjustments, exports)",
        ["season", "adjust", "override", "requests", "marks", "export"],
    ),
]


def _arguments(parser) -> list[tuple]:
    """`ARGUMENTS`' rows for every argument of every verb of `parser` (--help aside)."""
    verbs = parser._subparsers._group_actions[0]
    rows = []
    for verb, command in verbs.choices.items():
        for action in command._actions:
            if action.dest == "help":
                continue
            choices = None if action.choices is None else tuple(action.choices)
            kind = getattr(action.type, "__name__", action.type)
            rows.append((verb, tuple(action.option_strings), action.dest, action.default,
                         choices, action.required, action.nargs, kind))  # fmt: skip
    return rows


def _key(row: tuple) -> tuple[str, str]:
    return row[0], row[2]


def test_every_verb_takes_the_arguments_it_took_before_the_grouping():
    parser = build_parser()
    assert sorted(_arguments(parser), key=_key) == sorted(ARGUMENTS, key=_key)
    verbs = parser._subparsers._group_actions[0]
    assert {a.dest: a.help for a in verbs._choices_actions} == VERB_HELP


def test_the_arguments_check_sees_a_changed_default():
    """A default changed in a verb's declaration (its `kws.verbs.Verb`) would fail the test above."""
    parser = build_parser()
    parser._subparsers._group_actions[0].choices["grade"].set_defaults(jobs=4)
    assert sorted(_arguments(parser), key=_key) != sorted(ARGUMENTS, key=_key)


def _sections(help_text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(first word, rest of the line)]) for each section of an argparse help."""
    sections = []
    for line in help_text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            sections.append((line[:-1], []))
        elif sections and line.startswith("  ") and not line.startswith("   "):
            word, _, rest = line.strip().partition(" ")
            sections[-1][1].append((word, rest.strip()))
    return sections


def test_help_lists_the_five_groups_in_order_with_their_verbs():
    env = os.environ | {"COLUMNS": "200"}  # no wrapping: one line a verb
    done = subprocess.run([sys.executable, "-m", "kws.cli", "--help"], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    sections = _sections(done.stdout)
    assert [heading for heading, _ in sections] == [title for title, _ in GROUPS] + ["options"]
    for (title, verbs), (_, lines) in zip(GROUPS, sections[:-1], strict=True):
        assert [word for word, _ in lines] == verbs, title
        assert [rest for _, rest in lines] == [VERB_HELP[verb] for verb in verbs], title
    assert build_parser().command_groups == GROUPS


def test_help_answers_without_loading_torch(tmp_path):
    probe = "import sys, kws.cli; kws.cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=tmp_path)  # fmt: skip
    assert done.stdout.strip() == "False"
    # `-X importtime` lists every module the help run imported, on stderr.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "kws.cli", "--help"],
                          capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "kws.grading.season.cli" in imported  # the listing is the one of this run
    assert [name for name in imported if name.split(".")[0] == "torch"] == []
