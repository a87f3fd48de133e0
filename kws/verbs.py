"""The `kws` command's verbs, declared as data: what `kws.cli` builds the parser from, runs, and
says a verb's errors with.

A verb is a `Verb`: its name, its one-line help, its handler and its arguments, each an `Arg`
(what `argparse.ArgumentParser.add_argument` takes, kept as given), `Options` (arguments under
a heading of its help) or `OneOf` (arguments of which one at most is given). Each package
declares its verbs in its own ``cli`` module, beside their handlers; `kws.cli.GROUPS` lists them
under the headings of `kws --help`. The options several verbs share are declared here once
(`GRADES`, `WAIT`, `STRICT`, `FILE_TIMES`, `FUTURE_TIMES`, `ROSTER_KEY`, `NAMES`, `SEED`,
`PRESET`).

What a handler raises is said once, by `say` (`kws.cli.main` calls it), with the exit code:

- a mistake in what the user gave (`FileNotFoundError`, `ValueError`; the kit's ``...Error``
  classes for bad input are `ValueError`s), whose message names the file or value and the fix:
  ``kws VERB: message`` on stderr, no traceback, exit code 2 (as argparse for a bad option);
- a fault of the machine the verb says itself (`Verb.faults`: a full disk met by a verb that
  writes a grades folder, `kws.grading.season.cli.grades_folder_faults`): ``kws VERB: message``,
  the file, what the folder keeps and what to do in it, exit code 1;
- an exception the verb declares as its own way to stop (`Verb.stops`: `kws grade` stopped by a
  signal, or by a fault under a grader): ``kws VERB: message``, exit code its ``exit_code``
  (default 1);
- Ctrl-C: ``interrupted``, exit code 130.

Paths are `pathlib.Path` as the user typed them, so they mean the user's working directory and
messages name them as typed; the course folders of the environment (``KWS_COURSE``,
``KWS_ASSIGNMENTS``) are made absolute once, by `kws.cli.main`, for the children verbs start.
Nothing here imports more than argparse, so `kws --help` loads no torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]
# An entry of a verb's arguments: it adds itself to the verb's parser (or an argument group).
Adder = Callable[[argparse.ArgumentParser], None]


class Arg:
    """One argument of a verb: ``Arg(*names, **options)`` is added to a parser as
    ``parser.add_argument(*names, **options)``.

    Args:
        *names: the option strings (``"--out"``), or the positional's name.
        **options: what `argparse.ArgumentParser.add_argument` takes (``type``, ``default``,
            ``help``, ...).
    """

    def __init__(self, *names: str, **options) -> None:
        self.names, self.options = names, options

    def __call__(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.names, **self.options)

    def __repr__(self) -> str:
        return f"Arg({', '.join(map(repr, self.names))}, ...)"


class Options:
    """Arguments under a heading of the verb's help (`argparse`'s argument group).

    Args:
        title: the heading.
        *arguments: its `Arg` (or `OneOf`) entries, in order.
    """

    def __init__(self, title: str, *arguments: Adder) -> None:
        self.title, self.arguments = title, arguments

    def __call__(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(self.title)
        for add in self.arguments:
            add(group)


class OneOf:
    """Arguments of which one at most may be given (`argparse`'s mutually exclusive group)."""

    def __init__(self, *arguments: Adder) -> None:
        self.arguments = arguments

    def __call__(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group()
        for add in self.arguments:
            add(group)


@dataclass(frozen=True)
class Verb:
    """One verb of the `kws` command.

    Attributes:
        name: the word after ``kws``.
        help: its line in `kws --help`.
        run: its handler: the parsed command line in, the exit code out; it imports what it
            needs when it runs, so `kws --help` loads none of it. None for a verb of verbs.
        arguments: its arguments, in the order its help lists them (`Arg`, `Options`, `OneOf`,
            or any function that adds arguments to a parser).
        description: the paragraph of its own help (default: none).
        usage: its usage line(s), where argparse's would mislead (default: argparse's).
        faults: says an error that is a fault of the machine, not of the user's input (the
            line after ``kws VERB: ``, exit code 1); None for any other error.
        stops: the exceptions, besides a user's mistake, it ends with a message of its own
            (imported when one is raised): said as ``kws VERB: message``, exit code the
            exception's ``exit_code`` (default 1).
        mistake: the words between ``kws VERB:`` and a user's mistake (``error: `` for a verb
            that says them as argparse says a bad option).
        verbs: the verbs after this one (``kws marks restore``); it has no handler then.
    """

    name: str
    help: str
    run: Handler | None = None
    arguments: tuple[Adder, ...] = ()
    description: str | None = None
    usage: str | None = None
    faults: Callable[[argparse.Namespace, BaseException], str | None] | None = None
    stops: Callable[[], tuple[type[BaseException], ...]] | None = None
    mistake: str = ""
    verbs: tuple[Verb, ...] = ()

    def add_to(self, commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
        """Add this verb's parser to `commands` (a parser's subparsers), its arguments and its
        verbs with it; the parsed command line's ``verb`` is the `Verb` that runs."""
        parser = commands.add_parser(
            self.name, help=self.help, description=self.description, usage=self.usage
        )
        for add in self.arguments:
            add(parser)
        if self.verbs:
            names = "|".join(verb.name for verb in self.verbs)
            below = parser.add_subparsers(dest="action", required=True, metavar=names)
            for verb in self.verbs:
                verb.add_to(below)
        else:
            parser.set_defaults(verb=self)
        return parser


def say(verb: Verb, args: argparse.Namespace, error: BaseException) -> int | None:
    """Say `error`, raised by `verb`'s handler on the command line `args`, in one line on
    stderr, and return the exit code (module docstring); None for an error that is the kit's
    own bug (its traceback shows), or for `SystemExit`."""
    command = f"kws {args.command}"
    if verb.stops is not None and isinstance(error, verb.stops()):
        print(f"{command}: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 1)
    fault = None if verb.faults is None else verb.faults(args, error)
    if fault is not None:
        print(f"{command}: {fault}", file=sys.stderr)
        return 1
    if isinstance(error, FileNotFoundError | ValueError):
        print(f"{command}: {verb.mistake}{error}", file=sys.stderr)
        return 2
    if isinstance(error, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    return None


# The options several verbs share, declared once.
GRADES = Arg("grades", type=Path, help="the folder `kws grade --out` wrote")
WAIT = Arg("--wait", action="store_true",
           help="if another command is writing the grades folder, wait for it to end instead of "
           "refusing (one command at a time writes a folder)")  # fmt: skip
# Every verb that reads a course file (`kws.grading.season.cli.warn_or_refuse`).
STRICT = Arg("--strict", action="store_true",
             help="refuse a course file the kit would warn about (a time zone that is an "
             "abbreviation, a due date at midnight, ...) before anything is written")  # fmt: skip
FILE_TIMES = Arg("--file-times", action=argparse.BooleanOptionalAction,
                 help="date a hand-in that no times CSV row or Gradescope metadata dates by its "
                 "notebook's modification time (a copy or an unzip changes it: grades can move "
                 "by tens of points); kept as the grades folder's choice (default: as kept, "
                 "else refused)")  # fmt: skip
# Every verb that reads a times CSV given (`kws.grading.season.times.check_not_future`).
FUTURE_TIMES = Arg("--accept-future-times", action="store_true",
                   help="grade with hand-in times later than now as given (default: refused, "
                   "naming the row: an LMS export with a wrong year or time zone)")  # fmt: skip
ROSTER_KEY = Arg("--roster-key", metavar="COLUMN",
                 help="the roster column of hand-in folder names (default: folder)")  # fmt: skip
NAMES = Arg("names", nargs="*", metavar="NAME",
            help="assignments of the course (default: every one)")  # fmt: skip
SEED = Arg("--seed", type=int, default=0)
PRESET = Arg("--preset", default="small", choices=["tiny", "small", "full"])
