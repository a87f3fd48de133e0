"""The README's promises: its two set-up commands are what the demo and CI (in a fresh venv)
run, and every `kws` subcommand and file it names exists. (Its figures are not pinned here: the
README quotes none, and the docs site generates its figures from kws/figures.json,
tests/test_figures.py.)"""

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


COVERED = r"--cov=kws --cov-report=(?: --durations=\d+)?"  # a test step's options in .ci/run


def test_ci_runs_the_readme_commands_in_a_fresh_venv_then_the_rest_of_the_full_run():
    """.ci/run walks the README's path: a fresh venv, activated, the README's install in it, the
    README's test command (the default run, its coverage measured), then the rest of the full run
    (--full-rest) and each tier's coverage; nothing is installed into the Python running it."""
    install, test_command = (part.strip() for part in _setup_commands()[1].split("&&"))
    assert install == 'pip install -e ".[dev]"' and "--full" not in test_command
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]

    def first(found) -> int:
        return next((number for number, line in enumerate(lines) if found(line)), len(lines))

    venv = first(lambda line: line.startswith("python3 -m venv "))
    activate = first(lambda line: line.startswith("source ") and "/bin/activate" in line)
    installed = first(lambda line: line.startswith("pip install") and '-e ".[dev]"' in line)
    # each step may add pytest's --durations (its longest tests, in CI's log)
    tested = first(lambda line: re.fullmatch(rf"{re.escape(test_command)} {COVERED}", line))
    rest = first(
        lambda line: re.fullmatch(rf"{re.escape(test_command)} --full-rest {COVERED}", line)
    )
    tiers = first(lambda line: line.startswith("python .ci/tiers.py "))
    order = (venv, activate, installed, tested, rest, tiers)
    assert list(order) == sorted(order) and tiers < len(lines), order
    into_the_runner = [line for line in lines if line.startswith(("python3 -m pip", "pip3 "))]
    assert into_the_runner == [], ".ci/run must install into its venvs only"


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
