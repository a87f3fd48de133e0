"""The `kws` command: one entry point for the kit's jobs, grouped by workflow.

Its verbs come in five groups, each added to the parser by the package that does the job:

- **hand in** (for students): `handin` (`kws.handin.cli`);
- **try the kit**: `demo` (`kws.demo.cli`), `tables`, `train` (`kws.recipes.cli`), `synth`
  (`kws.data.cli`);
- **prepare a course**: `assign` (`kws.assign.cli`), `reference` (`kws.demo.cli`), `release`
  (`kws.release.cli`), `private` (`kws.data.cli`), `gradescope`
  (`kws.grading.publish.gradescope.cli`) and `rehearse` (`kws.rehearsal.cli`);
- **grade**: `grade`, `merge` (`kws.grading.classrun.cli`), `report`, `feedback`
  (`kws.grading.publish.cli`), `mark` (`kws.grading.marking.cli`);
- **the season**: `season`, `adjust` (`kws.grading.season.cli`) and `export`
  (`kws.grading.publish.cli`).

This module only builds the parser from `GROUPS` and runs the chosen verb, saying a user's
mistake a handler raises (`FileNotFoundError`, `ValueError`) in one line: `main`. Each verb's
handler imports what it needs when it runs, so `kws --help` answers at once (no torch loaded).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

from kws.assign import cli as assign
from kws.data import cli as data
from kws.demo import cli as demo
from kws.grading.classrun import cli as classrun
from kws.grading.marking import cli as marking
from kws.grading.publish import cli as publish
from kws.grading.publish.gradescope import cli as gradescope
from kws.grading.season import cli as season
from kws.handin import cli as handin
from kws.recipes import cli as recipes
from kws.rehearsal import cli as rehearsal
from kws.release import cli as release


class Group(NamedTuple):
    """A heading of `kws --help` and the functions that add its verbs, in the order listed.

    Attributes:
        title: the heading, as printed.
        adders: each takes the `kws` parser's subparsers and adds one package's verbs (with
            their handlers as the ``run`` default).
    """

    title: str
    adders: tuple[Callable[[argparse._SubParsersAction], None], ...]


GROUPS = (
    Group("hand in (students)", (handin.add_commands,)),
    Group("try the kit", (demo.add_commands, recipes.add_commands, data.add_synth_command)),
    Group(
        "prepare a course",
        (
            assign.add_commands,
            demo.add_reference_command,
            release.add_commands,
            data.add_private_command,
            gradescope.add_commands,
            rehearsal.add_commands,
        ),
    ),
    Group("grade", (classrun.add_commands, publish.add_report_commands, marking.add_commands)),
    Group(
        "the season (deadlines, late work, adjustments, exports)",
        (season.add_commands, publish.add_export_command),
    ),
)


class GroupedParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose sub-commands (verbs) come in groups, and whose help
    lists them under their groups' headings: argparse itself lists them all in one block.

    Args:
        groups: the groups, in the order the help lists them; every verb of this parser.
        **kwargs: what `argparse.ArgumentParser` takes (``prog``, ``description``, ...).

    Attributes:
        command_groups: (heading, verb names) of each group, in order: what the help and the
            documentation's command reference list.
    """

    def __init__(self, groups: tuple[Group, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self._verbs = self.add_subparsers(
            dest="command",
            required=True,
            metavar="COMMAND",
            parser_class=argparse.ArgumentParser,  # `kws VERB --help` as argparse writes it
        )
        self.command_groups: list[tuple[str, list[str]]] = []
        for group in groups:
            known = len(self._verbs._choices_actions)  # one per verb (aliases have none)
            for add in group.adders:
                add(self._verbs)
            added = self._verbs._choices_actions[known:]
            self.command_groups.append((group.title, [action.dest for action in added]))

    def format_help(self) -> str:
        """Usage, description, one section per group (each verb with its one-line help), the
        options and the epilog: `argparse.ArgumentParser.format_help` with the verbs' block
        cut into groups."""
        verbs = {action.dest: action for action in self._verbs._choices_actions}
        formatter = self._get_formatter()
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        formatter.add_text(self.description)
        for title, names in self.command_groups:
            formatter.start_section(title)
            formatter.add_arguments([verbs[name] for name in names])
            formatter.end_section()
        formatter.start_section(self._optionals.title)
        formatter.add_arguments(self._optionals._group_actions)
        formatter.end_section()
        formatter.add_text(self.epilog)
        return formatter.format_help()


def build_parser() -> GroupedParser:
    """The `kws` command's parser: every verb of `GROUPS`, each with its handler as ``run``."""
    return GroupedParser(
        GROUPS,
        prog="kws",
        description=__doc__.split("\n\n")[0],
        epilog="`kws COMMAND --help` shows a command's arguments and options.",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the verb `argv` names (default: the command line's); its exit code.

    A `FileNotFoundError` or `ValueError` (the kit's `...Error` classes for bad input are
    `ValueError`s) raised by a verb's handler is a mistake in what the user gave, and its message
    names the file or value and the fix: it is printed as ``kws VERB: message`` on stderr, with no
    traceback, and the exit code is 2, as for a bad option. The handler finds this function as
    ``args.kws``: a verb that runs other verbs (`kws rehearse`) runs them through it, as typed.
    """
    from kws.spec import absolute_environment

    # The course (KWS_COURSE) and more assignment folders (KWS_ASSIGNMENTS) as the user typed
    # them mean their working directory: every child (grader, notebook kernel) reads them so.
    os.environ.update(absolute_environment(dict(os.environ)))
    try:
        parser = build_parser()  # --assignment's choices read the course's folders
    except ValueError as error:  # a SpecError: KWS_COURSE or a spec the options list
        print(f"kws: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.kws = main
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"kws {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
