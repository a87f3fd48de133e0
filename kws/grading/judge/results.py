"""Gradescope-schema results for a pytest run: points, visibility, partial credit, a score table.

A graded test declares its worth with markers (``@pytest.mark.points(4)``,
``@pytest.mark.visibility("hidden")``); its docstring's first line is the name students see (or
its ``kws_title``, a title with values, which `titled` gives), in the course's language when
its catalog has it, and
the ``score`` fixture (`Score`) gives partial credit. `GradescopeReport` writes ``results.json``
at the session's end, with what a person should look at recorded as data (``extra_data
["findings"]``, `GradescopeReport.add_finding`: docs/reference/checks.md) and what each test
measured (``extra_data["measured"]``). A skipped test was not run: Gradescope's schema has no
"skipped", so it is listed as passed with 0 / 0 points. No results.json is written when a graded
test file cannot be loaded (`kws.grading.judge.loading.BROKEN_TESTS_EXIT`) or the grading machine
fails (`kws.grading.sandbox.faults.MACHINE_FAULT_EXIT`): neither is the hand-in's grade.
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kws.grading.judge.document import (
    FINDING_KINDS,
    HELD_OUT,
    HIDDEN_OUTPUT,
    MEASURES,
    REVIEW_PREFIX,
    VISIBILITIES,
    TestResult,
    results_document,
    write_results,
)
from kws.grading.judge.loading import BROKEN_LINE, BROKEN_TESTS_EXIT, fix_of, where_broken
from kws.grading.sandbox.faults import FAULT_LINE, MACHINE_FAULT_EXIT, machine_fault
from kws.i18n import Text, shown
from kws.i18n import gettext as _

_MESSAGE_LINES = 3


class Score:
    """The ``score`` fixture: the fraction of its points a test awards, for partial credit.

    A test that never calls `set` gets all its points when it passes and none when it fails.

    Example:
        ```python
        def test_accuracy(grading, child, hidden, score):
            fraction, message = tier_credit(accuracy, grading.tiers(SPEC.name), "strong")
            score.set(fraction, message if fraction == 1.0 else "")
            assert fraction == 1.0, message
        ```
    """

    def __init__(self):
        self.fraction: float | None = None
        self.note = ""

    def set(self, fraction: float, note: str = "") -> None:
        """Award `fraction` of the test's points, whatever the test's outcome.

        Args:
            fraction: 0..1.
            note: a sentence shown with the score.

        Raises:
            ValueError: `fraction` is outside 0..1.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"score.set({fraction}): the fraction must be between 0 and 1")
        self.fraction, self.note = float(fraction), note


def titled(title: str, **values) -> Callable:
    """Give a graded test its title, the name students see, where it states values (a limit
    from the spec): `title` is marked with ``N_`` for the catalogs and formatted with `values`
    in the course's language when the results are written.

    Example:
        ```python
        @titled(N_("Task 1: fewer than {n} encoder layers run in forward"), n=limit + 1)
        def test_task1_layers_that_run(grading, child): ...
        ```
    """

    def give(test: Callable) -> Callable:
        test.__doc__ = title.format(**values)  # the English, for a reader of the test
        test.kws_title = (title, values)
        return test

    return give


def title_of(function: Callable | None) -> tuple[str, dict]:
    """The title of a graded test `function` and its values: `titled`'s, else its docstring's
    first line (no values); ("", {}) when it has neither."""
    given = getattr(function, "kws_title", None)
    if given is not None:
        return given
    doc = (getattr(function, "__doc__", None) or "").strip()
    return (doc.splitlines()[0] if doc else "", {})


def failure_message(excinfo) -> str:
    """The first lines of an assertion message, or the exception's type and first line."""
    error = excinfo.value
    text = str(error).strip()
    if isinstance(error, AssertionError | pytest.fail.Exception):
        # pytest appends its own "assert ..." explanation after the message: drop it.
        text = text.split("\nassert ")[0].strip()
        lines = [line for line in text.splitlines() if line.strip()][:_MESSAGE_LINES]
        return "\n".join(lines) or _("A check failed.")
    first = text.splitlines()[0] if text else ""
    said = _("The grader hit an error: {error}").format(error=f"{type(error).__name__}: {first}")
    return said[:500]


def _marker_arg(item, name: str, default):
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker and marker.args else default


def _test_facts(item) -> dict:
    """The test's function name, the assignment it grades (its ``assignment`` marker, which the
    grader gives every graded test, or a module-level ASSIGNMENT) and its task (a `task`
    parameter, a ``task`` marker, or the module's TASK), as far as they are known."""
    module = getattr(item, "module", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    facts = {
        "test": getattr(item, "originalname", item.name),
        "assignment": _marker_arg(item, "assignment", getattr(module, "ASSIGNMENT", None)),
        "task": params.get("task", _marker_arg(item, "task", getattr(module, "TASK", None))),
    }
    return {key: value for key, value in facts.items() if isinstance(value, str)}


class GradescopeReport:
    """pytest plugin collecting per-test points and writing results.json at the session's end
    (none for a run `stop`ped by the grading machine's fault)."""

    def __init__(self, results_path: Path | None):
        self.results_path = results_path
        self.started = time.monotonic()
        self.tests: dict[str, TestResult] = {}
        self.order: list[str] = []
        self.titles: dict[str, tuple[str, dict, str]] = {}  # nodeid: title, values, suffix
        self.scores: dict[str, Score] = {}
        self.notes: list[str] = []
        self.skipped: set[str] = set()
        self.terminal_notes: list[str] = []
        self.extra_data: dict = {}
        self.leaderboard: dict[str, dict] = {}
        self.findings: list[dict] = []
        self._held_out = False  # the running test grades the Kaggle rule's held-out part
        self._running: str | None = None  # the nodeid of the test that is running
        self.fault: str | None = None  # a fault of the grading machine: no results, no grade
        self.broken: list[str] = []  # graded test files that did not load: no results, no grade

    def grades_held_out_part(self) -> None:
        """Mark the running test as grading the Kaggle rule's held-out part
        (`kws.grading.testsets.split`): its ``extra_data["part"]`` is `HELD_OUT` and its
        visibility ``after_due_date``. On Gradescope, the course rules keep its points out of
        every field a student sees until its notebook's due date
        (`kws.grading.publish.gradescope.held_out`)."""
        self._held_out = True

    def pytest_runtest_setup(self, item):
        self._held_out = False
        self._running = item.nodeid

    def pytest_runtest_teardown(self, item):
        self._running = None

    def add_finding(self, kind: str, text: str, *, student_sees: bool = True) -> None:
        """Record what a person should look at, with the test that found it when one is
        running; a review finding is also a ``Manual review:`` paragraph of the run's output,
        which the student reads, unless not `student_sees`.

        Args:
            kind: one of `FINDING_KINDS`: ``review``, ``tampering`` or ``grader_error``.
            text: one sentence, without its final period.
            student_sees: put a review finding in the output too (False: a suspicion for the
                instructor alone, in the findings the report and the gradebook read).
        """
        if kind not in FINDING_KINDS:
            raise ValueError(f"finding kind {kind!r} is not one of {FINDING_KINDS}")
        test = self.tests.get(self._running) if self._running else None
        finding = {"kind": kind, "text": text, "test": test.name if test else None}
        if finding not in self.findings:
            self.findings.append(finding)
        if kind == "review" and student_sees:
            self.add_output(f"{REVIEW_PREFIX} {text}.")

    def add_measure(self, name: str, value: int | float) -> None:
        """Record what the running test measured of the hand-in as a field of its
        ``extra_data["measured"]`` (`MEASURES`: the accuracy, the weights counted in
        ``model.pt``, the encoder layers that ran), for the pages a person reads beside the
        hand-in (the marking page of written answers). Nothing when no test is running."""
        if name not in MEASURES:
            raise ValueError(f"measure {name!r} is not one of {MEASURES}")
        test = self.tests.get(self._running) if self._running else None
        if test is not None:
            test.extra_data.setdefault("measured", {})[name] = value

    def add_leaderboard(self, name: str, value: float, order: str = "desc") -> None:
        """Put `value` on Gradescope's leaderboard under the column `name` ("desc": higher
        ranks first)."""
        self.leaderboard[name] = {"name": name, "value": round(float(value), 4), "order": order}

    def add_output(self, text: str, *, terminal: bool = False, first: bool = False) -> None:
        """Add a paragraph to the run's overall output (shown to the student); `terminal`
        also prints it under the score table; `first` puts it before the others."""
        if text not in self.notes:
            self.notes.insert(0 if first else len(self.notes), text)
            if terminal:
                self.terminal_notes.insert(0 if first else len(self.terminal_notes), text)

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): what the test is worth")
        config.addinivalue_line(
            "markers", "visibility(v): visible|hidden|after_due_date|after_published"
        )

    @pytest.fixture
    def score(self, request) -> Score:
        return self.scores.setdefault(request.node.nodeid, Score())

    def pytest_collection_finish(self, session):
        for item in session.items:  # after -k/-m deselection: only tests that will run
            visibility = _marker_arg(item, "visibility", "visible")
            if visibility not in VISIBILITIES:
                raise pytest.UsageError(
                    f"{item.nodeid}: visibility {visibility!r} is not one of {VISIBILITIES}"
                )
            title, values = title_of(getattr(item, "obj", None))
            suffix = f" [{item.callspec.id}]" if getattr(item, "callspec", None) else ""
            self.titles[item.nodeid] = (title or item.name, values, suffix)
            name = (title.format(**values) if values else title or item.name) + suffix
            points = float(_marker_arg(item, "points", 0.0))
            about = _test_facts(item)
            self.tests[item.nodeid] = TestResult(name, 0.0, points, "failed", "", visibility, about)
            self.order.append(item.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        report = yield
        if report.failed:  # the course's file, not the hand-in: no grade at all (`loading`)
            call = getattr(report, "call", None)  # pytest's, until it reports the collection
            path = getattr(collector, "path", None)
            if call is not None and call.excinfo is not None:
                self.broken.append(where_broken(call.excinfo.value, path))
            else:
                first = (report.longreprtext.strip().splitlines() or ["no error given"])[0]
                self.broken.append(f"{path or 'a graded test file'}: {first}")
        return report

    def _machine_fault(self, where: str, error: BaseException | None) -> None:
        """Remember the first fault of the grading machine (`machine_fault`) seen at `where`."""
        reason = machine_fault(error)
        if reason is not None and self.fault is None:
            self.fault = f"{where}: {reason}"

    def pytest_internalerror(self, excrepr, excinfo):
        self._machine_fault("the grader", excinfo.value)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None:
            self._machine_fault(item.nodeid, call.excinfo.value)
        test = self.tests.get(item.nodeid)
        if test is not None and report.when == "setup":  # in the test's language (`plugin`)
            title, values, suffix = self.titles[item.nodeid]
            test.name = shown(Text(title, **values)) + suffix  # a value may be a Text
        if test is None or (report.when != "call" and not report.failed and not report.skipped):
            return
        given = self.scores.get(item.nodeid)
        if report.skipped:
            reason = call.excinfo.value.msg if call.excinfo else "skipped"
            test.max_score, test.score, test.status = 0.0, 0.0, "passed"
            said = _("Not graded in this run ({reason}); its points are not counted.")
            test.output = said.format(reason=_(reason))
            test.extra_data["skipped"] = reason  # a field, for `kws handin` and the report
            self.skipped.add(item.nodeid)
            return
        if report.passed:
            fraction = 1.0 if given is None or given.fraction is None else given.fraction
            message = given.note if given else ""
        else:
            fraction = given.fraction if given and given.fraction is not None else 0.0
            message = failure_message(call.excinfo) if call.excinfo else _("The check failed.")
            if call.excinfo and not call.excinfo.errisinstance(
                (AssertionError, pytest.fail.Exception)
            ):
                self.add_finding("grader_error", f"{test.name}: {message}")
            if given and given.note:
                message = f"{given.note}\n{message}"
        if self._held_out:
            test.visibility = "after_due_date"
            test.extra_data["part"] = HELD_OUT
        test.score = round(test.max_score * fraction, 4)
        test.status = "passed" if fraction == 1.0 else "failed"
        test.output = message if test.visibility != "hidden" else _(HIDDEN_OUTPUT)

    def results(self) -> dict:
        tests = [self.tests[nodeid] for nodeid in self.order]
        return results_document(
            tests,
            output="\n\n".join(self.notes),
            execution_time=time.monotonic() - self.started,
            extra_data=self.extra_data | {"findings": self.findings},
            leaderboard=list(self.leaderboard.values()),
        )

    def stop(self, why: str) -> None:
        """The run stops without a grade: the grading machine cannot grade (`why`, for the
        instructor), so no results.json is written and the run says so as it ends."""
        self.fault = self.fault or why

    def pytest_sessionfinish(self, session):
        if self.broken:  # a graded test missing is no grade: no results, and say which file
            for said in self.broken:
                print(f"\n{BROKEN_LINE}{said}", file=sys.stderr, flush=True)
            print(f"no results written: {fix_of(self.broken)}", file=sys.stderr, flush=True)
            session.exitstatus = BROKEN_TESTS_EXIT
            return
        if self.fault is None and self.results_path is not None:
            try:
                write_results(self.results_path, self.results())
            except (OSError, MemoryError) as error:
                self._machine_fault(f"writing {self.results_path}", error)
                if self.fault is None:
                    raise
        if self.fault is not None:  # what the machine did is no grade: no results, and say so
            print(f"\n{FAULT_LINE}{self.fault}; no results written", file=sys.stderr, flush=True)
            session.exitstatus = MACHINE_FAULT_EXIT

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        if self.broken:  # no score at all, not a table of zeros
            write(f"no results written: a graded test file cannot be loaded: {self.broken[0]}")
            return
        document = self.results()
        terminalreporter.section("score")
        width = max([len(t["name"]) for t in document["tests"]] + [10])
        for nodeid, test in zip(self.order, document["tests"], strict=True):
            if nodeid in self.skipped:
                not_run = _("not run (its points are not counted)")
                write(f"   {test['name']:<{width}}  {not_run}")
                continue
            mark = "ok " if test["status"] == "passed" else "-- "
            write(f"{mark}{test['name']:<{width}}  {test['score']:>6g} / {test['max_score']:g}")
        total = sum(t["max_score"] for t in document["tests"])
        said = _("total")
        write(f"   {said:<{width}}  {document['score']:>6g} / {total:g}")
        for note in self.terminal_notes:
            write(note)
        if self.fault is not None:
            write(f"no results written: a fault of the grading machine: {self.fault}")
        elif self.results_path is not None:
            write(f"results written to {self.results_path}")
