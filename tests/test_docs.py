"""The documentation site (mkdocs.yml, docs/): it builds in strict mode, so a broken link,
reference or docstring fails; its figures, tier table and command reference are generated from
the kit's own files at build time; and a built page renders in a real browser."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest
from course_helpers import ROOT

from kws import figures

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="MkDocs is not installed: pip install -e '.[docs]' (the dev extra installs it)",
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _hook():
    """docs/hooks/generate.py, the MkDocs hook that writes the generated text."""
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs/hooks/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as `mkdocs build --strict` builds it from this checkout."""
    out = tmp_path_factory.mktemp("site")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=path, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_site_builds_strictly_with_every_placeholder_filled(site):
    pages = sorted(site.rglob("*.html"))
    for page in ("index.html", "tutorial/instructors.html", "reference/api/data.html"):
        assert (site / page).is_file(), page
    unfilled = [str(p.relative_to(site)) for p in pages if "{{" in p.read_text(encoding="utf-8")]
    assert unfilled == []
    commands = (site / "reference/commands.html").read_text(encoding="utf-8")
    for name in ("demo", "release", "grade", "report", "gradescope"):
        assert f"kws {name}" in commands, name  # from the command's own parser


def test_the_authoring_api_page_shows_every_published_name(site):
    """docs/reference/authoring-api.md renders each name of `kws.author` with its docstring, and
    each of the `layers` module's (torchaudio aside: the library itself, as the kit checked it
    loads)."""
    import kws.author

    page = (site / "reference/authoring-api.html").read_text(encoding="utf-8")
    shown = set(re.findall(r'id="kws\.author\.(\w+)"', page))
    assert shown == set(kws.author.__all__)
    listed = set(re.findall(r'href="#kws\.author\.(\w+)"', page))  # the page's table, by use
    assert listed == shown
    assert page.count("Example") >= len(shown)  # the docstrings, not only the names
    in_layers = set(re.findall(r'id="kws\.author\.layers\.(\w+)"', page))
    assert in_layers == set(kws.author.layers.__all__) - {"torchaudio"}
    assert in_layers <= set(re.findall(r'href="#kws\.author\.layers\.(\w+)"', page))


def test_the_api_pages_show_cross_references_not_raw_roles(site):
    """A docstring's reference renders as a link: no Sphinx role (`:class:`, `:func:`...) left as
    text, and no autorefs reference (`[name][]`) that did not resolve to a page."""
    raw = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):(?:`|<code>)")
    unresolved = re.compile(r"</code>\]\[[\w.]*\]")
    bad = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if raw.search(text) or unresolved.search(text):
            bad.append(str(page.relative_to(site)))
    assert bad == [], "raw roles or unresolved references; write [`kws.x.Name`][] instead"
    api = (site / "reference/api/training.html").read_text(encoding="utf-8")
    assert 'href="#kws.training.plan"' in api  # the loop's docstring links to the plan module


def test_the_figures_pages_quote_the_figures_file(site):
    row = figures.section("real_speech")["rows"]["notebook 01"]
    quoted = f"{figures.percent(row['mean'])} ± {100 * row['sd']:.1f}"
    for page in ("reference/figures.html", "how-to/real-speech.html"):
        assert quoted in (site / page).read_text(encoding="utf-8"), page


def test_the_pages_follow_the_figures_file_and_refuse_an_unknown_placeholder():
    """The text comes from whatever the file holds (a new benchmark run changes every page), and
    a placeholder the hook does not know stops the build, naming the ones it knows."""
    hook = _hook()
    sections = figures.load()
    sections["real_speech"]["rows"]["notebook 01"].update(mean=0.5, sd=0.012, crnn_mean=0.25)
    text = hook.render("Reached {{ figures:notebook-01-real }}.", sections)
    assert text.startswith(
        "Reached **50.0 % ± 1.2** over 5 speaker folds (its CRNN baseline 25.0 %"
    )
    with pytest.raises(ValueError, match=r"unknown placeholder \{\{ figures:nope \}\}; known: "):
        hook.render("{{ figures:nope }}", sections, where="page.md")


def test_the_demos_time_is_quoted_once_measured_and_said_missing_until_then():
    """A change to the demo removes its stale figures from the file: the pages then say the time
    is not measured and how to measure it, instead of quoting an old one."""
    hook = _hook()
    sections = {name: value for name, value in figures.load().items() if name != "demo"}
    assert "not measured" in hook.render("{{ figures:demo-time }}", sections)
    assert "bench_demo.py --publish" in hook.render("{{ figures:demo-table }}", sections)
    sections["demo"] = dict(
        wall_seconds=283, cpu_seconds=540, preset="small", score=101, max_score=101,
        accuracies={"PatchKWT (distilled)": 0.8}
    )  # fmt: skip
    assert hook.render("{{ figures:demo-time }}", sections).startswith("4 min 43 s (540 CPU-s)")
    table = hook.render("{{ figures:demo-table }}", sections)
    assert "| notebook 03: `PatchKWT`, distilled" in table and "| 101 / 101 |" in table
    # The time to the first graded notebook, the machine's reference time, and a machine shared
    # with other work said as such (bench_demo.py --shared), never passed off as an idle one.
    sections["demo"].update(
        first_graded_seconds=150.2, load_before=6.5, shared=True,
        machine={"reference_seconds": 6.4},
    )  # fmt: skip
    quoted = hook.render("{{ figures:demo-time }}", sections)
    assert quoted.startswith("4 min 43 s (540 CPU-s; the first notebook graded after 2 min 30 s)")
    assert "shared with other work (load average up to 6.5" in quoted
    assert "on an idle machine" not in quoted
    assert quoted.endswith("the machine's reference time: 6.4 s")


def test_the_suites_time_is_quoted_from_its_measurement_or_said_missing():
    """The tests page quotes the README's test command's time, default and full, from
    kws/figures.json's `suite` and `suite_full` (bench_suite.py), with its outcome, commit and
    the machine's reference time; without one it says how to measure it."""
    hook = _hook()
    sections = {k: v for k, v in figures.load().items() if k not in ("suite", "suite_full")}
    assert "bench_suite.py --publish" in hook.render("{{ figures:suite-time }}", sections)
    missing = hook.render("{{ figures:suite-full-time }}", sections)
    assert "bench_suite.py --full --publish" in missing
    sections["suite"] = dict(
        wall_seconds=290, cpu_seconds=560, outcome="981 passed, 68 skipped in 290.1s", runs=3,
        commit="abc123", machine={"reference_seconds": 6.2}
    )  # fmt: skip
    quoted = hook.render("{{ figures:suite-time }}", sections)
    assert quoted.startswith("4 min 50 s (560 CPU-s, 981 passed") and "abc123" in quoted
    assert quoted.endswith("; the machine's reference time: 6.2 s)")
    sections["suite_full"] = sections["suite"] | {"wall_seconds": 600}
    assert hook.render("{{ figures:suite-full-time }}", sections).startswith("10 min 0 s")


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"
)
def test_an_api_page_renders_in_headless_chromium(site, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    page = site / "reference" / "api" / "data.html"
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "<title>kws.data - kws" in dom  # the page's title, as the browser parsed it
    # the section generated from the docstrings: SpeechCommands and its documented arguments
    assert 'id="kws.data.speech_commands.SpeechCommands"' in dom
    assert "test_set_root" in dom and "EmptySplitError" in dom


def test_the_rehearsals_times_are_quoted_from_their_measurement_or_said_missing():
    """The rehearsal tutorial quotes `kws rehearse`'s first and second run on the example course
    from kws/figures.json's `rehearsal` (bench_rehearsal.py), with the machine's load and the
    commit; without one it says how to measure it."""
    hook = _hook()
    sections = {k: v for k, v in figures.load().items() if k != "rehearsal"}
    assert "bench_rehearsal.py --publish" in hook.render("{{ figures:rehearsal-time }}", sections)
    sections["rehearsal"] = dict(wall_seconds=190.4, again_seconds=21.2, cores=2,
                                 load_average=[0.4, 1.6], commit="abc123def4567890")  # fmt: skip
    first = hook.render("{{ figures:rehearsal-time }}", sections)
    assert first == "3 min 10 s on 2 cores (a load average of 0.4 to 1.6; measured at abc123def456)"
    assert hook.render("{{ figures:rehearsal-again-time }}", sections).startswith("21 s on 2 cores")
