"""What the sandbox says about a grading child, in the course's language: each protection it
achieved (`kws.grading.sandbox.launch`, ``run``, ``bwrap``, ``allow``), why a child did not
finish (`kws.grading.sandbox.supervise`, ``quota``, with what ``run`` adds to it) and the note on
the files of a hand-in not given to the child (`kws.grading.protocol.handin.CopyPlan.note`).

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
    # why a child did not finish: the longer of two alike first
    N_("stopped after the wall-clock limit of {seconds} s"),
    N_("stopped after the CPU-time limit of {seconds} s"),
    N_("ran out of memory (limit {size} GiB)"),
    N_("killed by signal {signal} (often: out of memory)"),
    N_("killed by signal {signal}"),
    N_("exited with code {code}: {error}"),
    N_("stopped: it wrote more than {size}"),
    N_(
        "{size} MiB of files, the limit of what one hand-in may write while it is graded (its "
        "folder, its /tmp and the files it deleted but kept open, together)"
    ),
    N_("the child wrote no result file (it ended before writing its result)"),
    N_("the child wrote no result file"),
    N_("the result file is not a regular file"),
    N_("the result file is larger than {size} bytes"),
    N_("the result file is not valid JSON"),
    N_("the result file does not have the expected structure"),
    N_("the result file does not carry this run's token"),
    N_("the result payload is not an object"),
)
# What the sandbox adds after a child's reason (`kws.grading.sandbox.run`)
SUFFIXES = (
    N_(" (it may write at most {size})"),
    N_(" (links and special files left out of the copy: {left_out})"),
)


def _pattern(template: str, before: str = "") -> re.Pattern:
    """`template` as a pattern matching the end of a line it makes, a group per value;
    `before`: a pattern for what comes first (a group of its own)."""
    parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, ..., text
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(before + pattern + r"\Z", re.S)


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    found = [(_pattern(t), t) for t in TEMPLATES]
    return found + [(_pattern(t, r"(?P<_line>.+?)"), t) for t in SUFFIXES]


def shown_line(line: str) -> str:
    """`line`, one the sandbox wrote, in the active language: its message's translation with
    the line's values (each shown likewise: a value may be a line of its own; a line with a
    suffix of `SUFFIXES`, each part), or `line` itself when no message of `TEMPLATES` makes it."""
    for pattern, template in _patterns():
        found = pattern.match(line)
        if found:
            values = {key: shown_line(value) for key, value in found.groupdict().items()}
            before = values.pop("_line", None)
            said = _(template).format(**values)
            return said if before is None else before + said
    return line


def shown_lines(lines: list[str], separator: str = ", ") -> str:
    """`lines` (a child's protections) each `shown_line`, one after the other."""
    return separator.join(shown_line(line) for line in lines)
