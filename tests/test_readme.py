"""The README's promises: its two set-up commands are what CI and the demo run, every `kws`
subcommand and file it names exists, and the real-speech figures it and notebook 01 quote are the
benchmark's."""

import json
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


def test_notebook_01_and_the_readme_quote_its_measured_real_speech_figures():
    # What students read about their own model on real speech is the benchmark's last measurement
    # of the notebook as shipped (benchmarks/bench_real_speech.py --folds 5 --notebook).
    row = json.loads((ROOT / "benchmarks/results/real_speech_cv.json").read_text())["notebook 01"]
    assert row["k"] == row["total_folds"] == 5, "quote a run over every speaker fold"
    mean, sd = f"{row['mean']:.1%}".replace("%", " %"), f"{100 * row['sd']:.1f}"
    crnn, crnn_sd = f"{row['crnn_mean']:.1%}".replace("%", " %"), f"{100 * row['crnn_sd']:.1f}"
    notebook = json.loads((ROOT / "solutions/01_keyword_spotting.ipynb").read_text())
    introduction = re.sub(r"\s+", " ", "".join(notebook["cells"][0]["source"]))
    for quoted in (f"**{mean}** (± {sd})", f"{crnn} (± {crnn_sd})"):
        assert quoted in introduction, f"notebook 01's introduction should quote {quoted}"
    readme = re.sub(r"\s+", " ", README)
    for quoted in (f"**{mean} ± {sd}**", f"**{crnn} ± {crnn_sd}**"):
        assert quoted in readme, f"the README should quote {quoted}"


def test_the_readme_quotes_the_kit_recipes_cross_validated_figures():
    # `kws train kws_transformer` and `kws train crnn_attention` are the kit's reference recipes:
    # the README's table of models gives each the figure bench_real_speech.py --folds saved.
    rows = json.loads((ROOT / "benchmarks/results/real_speech_cv.json").read_text())
    table = {line.split(" | ")[0]: line for line in README.splitlines() if line.startswith("| ")}
    for name in ("kws_transformer", "crnn_attention"):
        row = rows[f"{name} (real)"]
        line = next((v for k, v in table.items() if k.startswith(f'| `SMALL["{name}"]`')), None)
        assert line is not None, f'the README has no table row for SMALL["{name}"]'
        mean, sd = f"{row['mean']:.1%}".replace("%", " %"), f"{100 * row['sd']:.1f}"
        assert f"{mean} ± {sd}" in line and f"| {row['k']} |" in line, (line, mean, sd, row["k"])
