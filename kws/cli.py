"""The `kws` command: one entry point for the kit's jobs, grouped by workflow.

`GROUPS` is the table of its verbs: each heading of `kws --help` with its verbs in order, each
verb declared once, as a `kws.verbs.Verb`, by the package that does its job (in its ``cli``
module, beside its handler). `kws --help`, each verb's parser and the dispatch all come from it:
`build_parser` builds the parser, `main` runs the verb chosen and says what it raised
(`kws.verbs.say`). Each handler imports what it needs when it runs, so `kws --help` answers at
once (no torch loaded).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NamedTuple

from kws.assign import cli as assign
from kws.data import cli as data
from kws.demo import cli as demo
from kws.grading.classrun import cli as classrun
from kws.grading.marking import cli as marking
from kws.grading.publish import cli as publish
from kws.grading.publish.gradescope import cli as gradescope
from kws.grading.season import cli as season
from kws.grading.season import override, regrade_requests
from kws.handin import cli as handin
from kws.recipes import cli as recipes
from kws.rehearsal import cli as rehearsal
from kws.release import cli as release
from kws.verbs import Verb, say


class Group(NamedTuple):
    """A heading of `kws --help` and its verbs, in the order listed.

    Attributes:
        title: the heading, as printed.
        verbs: its verbs.
    """

    title: str
    verbs: tuple[Verb, ...]


GROUPS = (
    Group("hand in (students)", (handin.HANDIN,)),
    Group("try the kit", (demo.DEMO, recipes.TABLES, recipes.TRAIN, data.SYNTH)),
    Group(
        "prepare a course",
        (
            assign.ASSIGN,
            demo.REFERENCE,
            release.RELEASE,
            data.PRIVATE,
            gradescope.GRADESCOPE,
            rehearsal.REHEARSE,
        ),
    ),
    Group(
        "grade", (classrun.GRADE, classrun.MERGE, publish.REPORT, publish.FEEDBACK, marking.MARK)
    ),
    Group(
        "the season (deadlines, late work, adjustments, exports)",
        (
            season.SEASON,
            season.ADJUST,
            override.OVERRIDE,
            regrade_requests.REQUESTS,
            marking.with_import(season.MARKS),
            publish.EXPORT,
        ),
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
        self.command_groups = [
            (group.title, [verb.name for verb in group.verbs]) for group in groups
        ]
        for group in groups:
            for verb in group.verbs:
                verb.add_to(self._verbs)

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
    """The `kws` command's parser: every verb of `GROUPS`."""
    return GroupedParser(
        GROUPS,
        prog="kws",
        description=__doc__.split("\n\n")[0],
        epilog="`kws COMMAND --help` shows a command's arguments and options.",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the verb `argv` names (default: the command line's); its exit code.

    What the verb's handler raises is said in one line with its exit code (`kws.verbs.say`: a
    user's mistake, 2; a fault of the machine, 1; Ctrl-C, 130). The handler finds this
    function as ``args.kws``: a verb that runs other verbs (`kws rehearse`) runs them through
    it, as typed.
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
        return args.verb.run(args)
    except BaseException as error:
        code = say(args.verb, args, error)
        if code is None:
            raise
        return code


if __name__ == "__main__":
    sys.exit(main())
