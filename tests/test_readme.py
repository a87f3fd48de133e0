"""The README's promises: its two set-up commands are what CI and the demo run, and every `kws`
subcommand and file it names exists. (Its figures are not pinned here: the README quotes none,
and the docs site generates its figures from kws/figures.json, tests/test_figures.py.)"""

import re

from course_helpers import ROOT

from kws.cli import build_parser

README = (ROOT / "README.md").read_text()


def _setup_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_two_setup_commands():
    demo, tests = _setup_commands()
    assert demo == "pip install -e . && kws demo"
    assert tests.startswith('pip install -e ".[dev]" && ')


def test_ci_runs_the_readme_test_command():
    test_command = _setup_commands()[1].split("&&")[1].strip()  # python -m pytest ...
    ci = (ROOT / ".ci" / "run").read_text()
    ci_lines = [line.strip().replace("python3 ", "python ") for line in ci.splitlines()]
    assert test_command in ci_lines, f".ci/run must run `{test_command}`"
    assert any('-e ".[dev]"' in line for line in ci_lines), ".ci/run must install the dev extras"


def test_every_kws_subcommand_in_the_readme_exists():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    named = set(re.findall(r"`kws (\w[\w-]*)", README)) | set(re.findall(r"&& kws (\w+)", README))
    assert named, "the README names no kws subcommand"
    assert named <= set(subcommands), f"unknown: {named - set(subcommands)}"


def test_every_script_the_readme_names_exists():
    for path in re.findall(r"python ((?:data_scripts|benchmarks)/\w+\.py)", README):
        assert (ROOT / path).is_file(), path


def test_the_readme_stays_a_ten_minute_read_and_its_docs_links_resolve():
    # The reference, the measurements and the research record live in docs/ and benchmarks/.
    assert len(README.splitlines()) <= 250, "move reference material to a page under docs/"
    linked = re.findall(r"\]\(((?:docs|benchmarks)/[^)#\s]+)", README)
    assert linked, "the README links to no documentation page"
    assert [path for path in linked if not (ROOT / path).is_file()] == []
