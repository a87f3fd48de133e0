"""What the sandbox says about a grading child, in the course's language: each protection it
achieved (`kws.grading.sandbox.launch`, ``run``, ``bwrap``, ``allow``) and the note on the files
of a hand-in not given to the child (`kws.grading.protocol.handin.CopyPlan.note`).

The sandbox writes them in English, as data: the child's launcher runs before the grader knows
the course's language, and a recorded child's report holds them as it was written. The grader
reads each line back by the message it was made from (`TEMPLATES`) and shows that message's
translation with the same values; a line no message makes is shown as it was written.
tests/test_results_language.py checks that every line the sandbox can write is one of these.
"""

import re
from functools import cache

from kws.i18n import N_
from kws.i18n import gettext as _

TEMPLATES = (
    N_("bubblewrap: own PID namespace and /proc (no other process visible)"),
    N_("no network (own network namespace, loopback only)"),
    N_(
        "only its allow-list visible: the OS, Python and the kws package read-only, its own "
        "folder and a private /tmp"
    ),
    N_("no allow-list ({error})"),
    N_("no mount namespace: the child can read what the grader's user can"),
    N_(
        "no mount namespace: file permissions alone keep the child out ({open} of {paths} paths "
        "it must not read are open to other users)"
    ),
    N_("own PID namespace and /proc (no other process visible)"),
    N_("own PID namespace (the machine's /proc: other processes are listed)"),
    N_("CPU time {seconds} s"),
    N_("memory {size} GiB"),
    N_("file size {size} MiB"),
    N_("{count} processes/threads"),
    N_("unprivileged user id {uid}"),
    N_("wall clock {seconds} s"),
    N_(
        "grading used only the notebook and each task's {used} (other files of the hand-in are "
        "not given to your model; nothing to fix): left out {left_out}"
    ),
)


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    """Each template as a pattern matching the whole line it makes, a group per value."""
    found = []
    for template in TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, ..., text
        pattern = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
        )
        found.append((re.compile(pattern + r"\Z", re.S), template))
    return found


def shown_line(line: str) -> str:
    """`line`, one the sandbox wrote, in the active language: its message's translation with
    the line's values, or `line` itself when no message of `TEMPLATES` makes it."""
    for pattern, template in _patterns():
        found = pattern.match(line)
        if found:
            return _(template).format(**found.groupdict())
    return line


def shown_lines(lines: list[str], separator: str = ", ") -> str:
    """`lines` (a child's protections) each `shown_line`, one after the other."""
    return separator.join(shown_line(line) for line in lines)
