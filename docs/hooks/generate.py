"""MkDocs hook: what the documentation pages quote from the kit's own files, generated at build.

A page asks for generated text with a placeholder on a line of its own (a table) or inside a
sentence:

- ``{{ figures:NAME }}``: measured figures, from ``kws/figures.json`` (which the benchmarks
  publish, ``benchmarks/benchlib.py``), so a page always shows the figures last measured;
- ``{{ specs:NAME }}``: tables read from the assignments' ``spec.toml`` files;
- ``{{ cli:commands }}``: every ``kws`` subcommand with its help, under its group's heading,
  from the command's own parser;
- ``{{ torch:NAME }}``: the measured torch / torchaudio pairs and the pins, from ``kws.compat``.

``RENDER`` maps each name to the function that makes its text. An unknown name stops the build.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from packaging.specifiers import SpecifierSet

from kws import figures
from kws.figures import percent
from kws.spec.toml import tomllib  # the kit's one reader (tomli on Python 3.10)

PLACEHOLDER = re.compile(r"\{\{\s*((?:figures|specs|cli|torch):[\w-]+)\s*\}\}")
SPECS = Path(__file__).resolve().parents[2] / "kws" / "assignments"
ROW_NAMES = {  # how a results row is named for a reader
    "notebook 01": "notebook 01's reference solution, executed as a student runs it",
    "kws_transformer (real)": '`SMALL["kws_transformer"]` (`kws train kws_transformer`)',
    "crnn_attention (real)": '`SMALL["crnn_attention"]` (`kws train crnn_attention`)',
    "notebook 03": "notebook 03's reference `PatchKWT`, distilled, executed as a student runs it",
    "notebook 03, teacher in the loop": "notebook 03's `PatchKWT` as it was, its teacher run on "
    "every batch (`bench_patch_variants.py`)",
}
DEMO_NAMES = {  # the notebooks' summary keys
    "KeywordTransformer": "notebook 01: `KeywordTransformer`, 12-class test set",
    "CRNN baseline": "notebook 01: the CRNN baseline, 12-class test set",
    "baseline": "notebook 02: the HW4 sample model, best validation accuracy",
    "task1": "notebook 02: Task 1, best validation accuracy",
    "task2": "notebook 02: Task 2, best validation accuracy",
    "task3": "notebook 02: Task 3, best validation accuracy",
    "PatchKWT (distilled)": "notebook 03: `PatchKWT`, distilled, 12-class test set (graded)",
    "PatchKWT CLS head": "notebook 03: its CLS head alone",
    "PatchKWT dist. head": "notebook 03: its distillation head alone",
    "PatchKWT no teacher": "notebook 03: the same model without a teacher",
    "CRNN teacher": "notebook 03: the CRNN teacher",
}
# Said where the demo's figures go while the figures file has none for this version of the kit
# (a change to the demo removes its stale figures; bench_demo.py measures them again).
SUITE_UNMEASURED = (
    "not measured for this version of the kit (`python benchmarks/bench_suite.py --publish` "
    "measures it on an idle machine)"
)
HANDIN_UNMEASURED = (
    "a time not measured for this version of the kit (`python benchmarks/bench_handin.py "
    "--publish` measures it)"
)
REHEARSAL_UNMEASURED = (
    "a time not measured for this version of the kit (`python benchmarks/bench_rehearsal.py "
    "--publish` measures it)"
)
DEMO_UNMEASURED = (
    "not measured for this version of the kit (`python benchmarks/bench_demo.py --publish` "
    "measures it on an idle machine)"
)


def _spread(row: dict) -> str:
    return f"{percent(row['mean'])} ± {100 * row['sd']:.1f}"


def _cpu(row: dict) -> str:
    if "cpu_seconds_min" in row:
        return f"{row['cpu_seconds_min']:,.0f}–{row['cpu_seconds_max']:,.0f}"
    return f"{row['cpu_seconds_mean']:,.0f}"


def real_speech_table(sections: dict) -> str:
    rows = sections["real_speech"]["rows"]
    lines = [
        "| model | parameters | steps × batch | unseen speakers | folds | CPU-s a fold |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        parameters = f"{row['parameters']:,}" if "parameters" in row else "—"
        steps = f"{row['steps']:,} × {row['batch_size']}" if "steps" in row else "—"
        lines.append(
            f"| {ROW_NAMES.get(name, name)} | {parameters} | {steps} | **{_spread(row)}** "
            f"| {row['k']} of {row['total_folds']} | {_cpu(row)} |"
        )
        if "crnn_mean" in row:
            crnn = f"{percent(row['crnn_mean'])} ± {100 * row['crnn_sd']:.1f}"
            lines.append(f"| … its CRNN baseline, trained in the same run | | | {crnn} | | |")
        if "teacher_mean" in row:
            teacher = f"{percent(row['teacher_mean'])} ± {100 * row['teacher_sd']:.1f}"
            cost = row.get("teacher_cpu_seconds_mean")
            cost = f"{cost:,.0f} more" if cost else ""
            lines.append(f"| … its CRNN teacher, trained first | | | {teacher} | | {cost} |")
    return "\n".join(lines)


def notebook_01_real(sections: dict) -> str:
    row = sections["real_speech"]["rows"]["notebook 01"]
    return (
        f"**{_spread(row)}** over {row['k']} speaker folds "
        f"(its CRNN baseline {percent(row['crnn_mean'])} ± {100 * row['crnn_sd']:.1f})"
    )


def real_speech_per_class(sections: dict) -> str:
    row = sections["real_speech"]["rows"]["notebook 01"]
    names = list(row["per_class_mean"])
    return "\n".join(
        [
            "| " + " | ".join(f"`{name}`" for name in names) + " |",
            "|" + "---|" * len(names),
            "| " + " | ".join(percent(row["per_class_mean"][n]) for n in names) + " |",
        ]
    )


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def demo_time(sections: dict) -> str:
    if "demo" not in sections:
        return DEMO_UNMEASURED
    demo = sections["demo"]
    first = demo.get("first_graded_seconds")
    first = f"; the first notebook graded after {_minutes(first)}" if first else ""
    where = ", on an idle machine"
    if demo.get("shared"):  # bench_demo.py --shared: published from a machine with other work
        where = (
            f", on a machine shared with other work (load average up to {demo['load_before']:g} "
            "before a run: slower than on an idle one)"
        )
    return (
        f"{_minutes(demo['wall_seconds'])} ({demo['cpu_seconds']:,} CPU-s{first}) on the "
        f"`{demo['preset']}` preset{where}{_on_the_machine(demo)}"
    )


def _on_the_machine(section: dict) -> str:
    """The reference time of the machine a figure was measured on (benchmarks/machine.py)."""
    if "machine" not in section:
        return ""
    return f"; the machine's reference time: {section['machine']['reference_seconds']:g} s"


def _suite(sections: dict, name: str, publish: str) -> str:
    if name not in sections:
        return SUITE_UNMEASURED.replace("--publish", publish)
    suite = sections[name]
    return (
        f"{_minutes(suite['wall_seconds'])} ({suite['cpu_seconds']:,} CPU-s, "
        f"{suite['outcome']}; median of {suite['runs']} at {suite['commit']}"
        f"{_on_the_machine(suite)})"
    )


def suite_time(sections: dict) -> str:
    return _suite(sections, "suite", "--publish")


def suite_full_time(sections: dict) -> str:
    return _suite(sections, "suite_full", "--full --publish")


def demo_table(sections: dict) -> str:
    if "demo" not in sections:
        return f"Its time and accuracies: {DEMO_UNMEASURED}."
    demo = sections["demo"]
    lines = ["| what (synthetic data) | figure |", "|---|---|"]
    lines += [
        f"| {DEMO_NAMES.get(name, name)} | {percent(value)} |"
        for name, value in demo["accuracies"].items()
    ]
    lines.append(f"| the grader's score | {demo['score']:g} / {demo['max_score']:g} |")
    lines.append(f"| time | {demo_time(sections)} |")
    return "\n".join(lines)


def grading_table(sections: dict) -> str:
    lines = [
        "| run | peak memory (whole grader) | largest process | wall | CPU-s | CPU | test set "
        "| in a memory cgroup | score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in sections["grading"]["runs"].items():
        largest = f"{run['largest_process_mib']:,} MiB" if "largest_process_mib" in run else "—"
        wall = f"{run['wall_seconds']:.0f} s" if "wall_seconds" in run else "—"
        cpu_seconds = f"{run['cpu_seconds']:.0f}" if "cpu_seconds" in run else "—"
        size = f"{run['clips']:,} clips"
        if run.get("utterances"):
            size += f", {run['utterances']:,} utterances"
        if run.get("private_keyword_set"):
            size += " (keyword spotting's private set)"
        group = "—"
        if "cgroup_unreclaimable_peak_mib" in run:
            group = (
                f"{run['memory_limit_mib']} MiB limit: {run['cgroup_unreclaimable_peak_mib']} MiB "
                f"unreclaimable at the peak, {run['oom_kills']} killed"
            )
        score = f"{run['score']:g} / {run['max_score']:g}" if run.get("max_score") else "—"
        lines.append(
            f"| {name} | **{run['peak_tree_rss_mib']:,} MiB** | {largest} | {wall} | "
            f"{cpu_seconds} | {run['cpu'].split(' (')[0]} | {size} | {group} | {score} |"
        )
    return "\n".join(lines)


def grading_peak(sections: dict) -> str:
    peak = max(run["peak_tree_rss_mib"] for run in sections["grading"]["runs"].values())
    return f"{peak:,} MiB"


def report_time(sections: dict) -> str:
    report = sections["report"]
    return (
        f"{report['cpu_seconds']:.0f} CPU-s for {report['students']} hand-ins "
        f"({report['jobs']} processes; {report['wall_seconds']:.0f} s of wall time)"
    )


def handin_time(sections: dict) -> str:
    if "handin" not in sections:
        return HANDIN_UNMEASURED
    handin = sections["handin"]
    low, high = handin["load_average"]
    return (
        f"{handin['wall_seconds']:.0f} s (the median of {handin['repeat']} runs on notebook 02's "
        f"three tasks, synthetic data, {handin['cores']} cores with a load average of {low:g} "
        f"to {high:g})"
    )


def _rehearsal(sections: dict, key: str) -> str:
    if "rehearsal" not in sections:
        return REHEARSAL_UNMEASURED
    run = sections["rehearsal"]
    low, high = run["load_average"]
    return (
        f"{_minutes(run[key])} on {run['cores']} cores (a load average of {low:g} to {high:g}; "
        f"measured at {run.get('commit', 'an unknown commit')[:12]})"
    )


def rehearsal_time(sections: dict) -> str:
    """The first rehearsal of the kit's example course: the class made, graded, played."""
    return _rehearsal(sections, "wall_seconds")


def rehearsal_again_time(sections: dict) -> str:
    """The second rehearsal of the same course: the class and its grading reused."""
    return _rehearsal(sections, "again_seconds")


def provenance(sections: dict) -> str:
    lines = []
    for name, section in sections.items():
        kind = "synthetic data" if section["synthetic"] else "real speech"
        lines.append(f"- **{name}** ({kind}): `{section['command']}`. {section['conditions']}")
        if section.get("recorded"):
            lines.append(f"  *Recorded:* {section['recorded']}.")
    return "\n".join(lines)


def private_variant_table(sections: dict) -> str:
    """Per fold: the lookups on the private variant, and each trained reference model's
    accuracy on the public clips and on the variant."""
    section = sections["private_variant"]
    models = section["models"]
    head = "| fold | lookup: right label | lookup: own clip | noise-robust lookup: own clip |"
    head += "".join(f" {name.replace('_', ' ')}: public | private (graded) |" for name in models)
    lines = [head, "|" + "---|" * (4 + 2 * len(models))]
    keys = ("hit_rate", "own_clip_found", "own_clip_found_robust")
    for fold, lookup in enumerate(section["lookup_per_fold"]):
        cells = [str(fold), *(percent(lookup[k]) for k in keys)]
        for row in models.values():
            graded = row["per_fold"].get(str(fold))
            cells += (
                [percent(graded["public"]), percent(graded["private"])] if graded else ["—"] * 2
            )
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["mean", *(percent(section["lookup"][k]) for k in keys)]
    for row in models.values():
        cells += [f"gap {100 * row['gap_mean']:.1f} points", f"largest {100 * row['gap_max']:.1f}"]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def private_variant_lookup(sections: dict) -> str:
    """The mean-log-mel lookup's hit rate on the variant, against its rate on the public clips."""
    lookup = sections["private_variant"]["lookup"]
    return (
        f"{percent(lookup['hit_rate'])} of the time (gain-normalised: "
        f"{percent(lookup['hit_rate_gain_normalised'])}; searching for the pitch change too: "
        f"{percent(lookup['hit_rate_pitch_search'])}; on the public clips themselves: "
        f"{percent(lookup['plain_hit_rate'])}; always answering the largest class: "
        f"{percent(lookup['chance'])})"
    )


def private_variant_robust(sections: dict) -> str:
    """What a noise-robust, pitch-searching lookup still finds on the variant."""
    lookup = sections["private_variant"]["lookup"]
    return (
        f"the right label {percent(lookup['hit_rate_robust'])} of the time, and the clip's own "
        f"public source {percent(lookup['own_clip_found_robust'])}"
    )


def speaker_private_table(sections: dict) -> str:
    """Per seed and task of notebook 02's reference: its accuracy on the public test utterances
    (its model's, its predictions.csv's) and on private sets of the default size."""
    section = sections["speaker_private"]
    size = section["per_speaker"]
    lines = [
        f"| seed | task | public: model | public: predictions.csv | private, {size} a speaker: "
        "mean (lowest – highest) | the whole pool |",
        "|---|---|---|---|---|---|",
    ]
    for key, row in section["per_seed"].items():
        seed, task = key.split("/")
        spread = f"{percent(row['private_min'])} – {percent(row['private_max'])}"
        lines.append(
            f"| {seed} | {task} | {percent(row['public'])} | {percent(row['public_csv'])} | "
            f"{percent(row['private_mean'])} ({spread}) | {percent(row['pool'])} |"
        )
    return "\n".join(lines)


def speaker_private_tier_changes(sections: dict) -> str:
    """How often two private sets of the default size give an honest reference other credit."""
    section = sections["speaker_private"]
    size = str(section["per_speaker"])
    changes = section["tier_changes"][size]
    utterances = "utterance" if size == "1" else "utterances"
    return (
        f"{percent(changes['independent'])} of pairs of independent private sets of {size} "
        f"{utterances} a speaker ({percent(changes['resampled'])} of pairs drawn from one pool of "
        "held-back utterances with different secrets, which share some)"
    )


def speaker_private_honest_flags(sections: dict) -> str:
    """The gap flags honest notebook-02 references got, of the checks made."""
    section = sections["speaker_private"]
    flags, checks = section["honest_flags"], section["honest_checks"]
    return f"{'none' if flags == 0 else flags} of {checks:,} checks, on synthetic data"


def tiers_table(sections: dict) -> str:
    lines = [
        "| assignment | dataset | simple | medium | strong | boss |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(SPECS.glob("*/spec.toml")):
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
        for dataset, tiers in spec.get("tiers", {}).items():
            values = " | ".join(
                f"{tiers[tier]:g}" for tier in ("simple", "medium", "strong", "boss")
            )
            lines.append(f"| `{spec['name']}` | `{dataset}` | {values} |")
    return "\n".join(lines)


def tier_seeds(sections: dict) -> str:
    """Per device and task: the reference's graded accuracy over seeds at the demo's budget
    against the threshold of its target tier, and the best run at a tenth of the budget."""
    if "tiers" not in sections:
        return "Not measured for this version of the kit (`python benchmarks/bench_tiers.py`)."
    lines = [
        "| device | task (target tier) | seeds | lowest | mean | highest | threshold | margin "
        "| best at a tenth of the budget |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sections["tiers"]["rows"]:
        for name, threshold in row["thresholds"].items():
            tenth = row["fractions"].get("0.1")
            lines.append(
                f"| {row['device']} | notebook {row['notebook'][:2]}, `{row['task']}` "
                f"({row['target']}, `{name}`) | {row['seeds']} | {percent(row['lowest'])} "
                f"| {percent(row['mean'])} | {percent(row['highest'])} | {percent(threshold)} "
                f"| {100 * (row['lowest'] - threshold):+.1f} points "
                f"| {percent(tenth) if tenth is not None else '—'} |"
            )
    return "\n".join(lines)


def gpu_check(sections: dict) -> str:
    """What `benchmarks/gpu_check.py` last measured on a GPU, step by step."""
    if "gpu" not in sections:
        return (
            "Not run on a GPU for this version of the kit: no GPU was at hand where it was "
            "changed. `python benchmarks/gpu_check.py` measures it; until then the CPU stand-ins "
            "are all the suite has."
        )
    gpu = sections["gpu"]
    steps, machine = gpu["steps"], gpu.get("machine", {})
    lines = [
        f"On {machine.get('gpu')} ({machine.get('cores')} cores, torch {machine.get('torch')}, "
        f"CUDA {machine.get('cuda')}), at commit {gpu['commit']}, in {gpu['seconds']:.0f} s:",
        "",
        "| step | exit | seconds | what it gave |",
        "|---|---|---|---|",
    ]
    said = {
        "tests": lambda s: f"{s.get('passed', 0)} passed, {s.get('failed', 0)} failed",
        "bench_train": lambda s: "<br>".join(s.get("rows", [])),
        "demo": lambda s: f"{s.get('score', 0):g} / {s.get('max_score', 0):g} (synthetic)",
        "grader": lambda s: f"{s.get('score', 0):g} / {s.get('max_score', 0):g} with re-training",
        "tiers": lambda s: f"{len(s.get('summary', []))} task rows (the tiers page)",
    }
    for name, step in steps.items():
        what = said.get(name, lambda s: "")(step)
        lines.append(f"| {name} | {step.get('exit')} | {step.get('seconds')} | {what} |")
    return "\n".join(lines)


def _verbs_of(command) -> dict:
    """{verb: its parser} of a command with verbs of its own (``kws requests``), else {}."""
    found = [a for a in command._actions if a.__class__.__name__ == "_SubParsersAction"]
    return dict(found[0].choices) if found else {}


def commands(sections: dict) -> str:
    """Every ``kws`` verb under its group's heading (as ``kws --help`` groups them), each with
    its one-line help and its own ``--help`` (and each of its own verbs' ``--help``)."""
    from kws.cli import build_parser

    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0]
    helps = {action.dest: action.help for action in subcommands._choices_actions}
    parts = []
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps its help to the terminal's width
    try:
        for title, names in parser.command_groups:
            parts += [f"## {title[:1].upper()}{title[1:]}", ""]
            for name in names:
                summary = helps.get(name) or ""
                parts += [f"### kws {name}", "", f"{summary[:1].upper()}{summary[1:]}.", ""]
                command = subcommands.choices[name]
                parts += ["```text", command.format_help().rstrip(), "```", ""]
                for verb, sub in _verbs_of(command).items():  # kws requests import, ...
                    parts += [f"#### kws {name} {verb}", "", "```text",
                              sub.format_help().rstrip(), "```", ""]  # fmt: skip
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(parts)


def torch_pairs(sections: dict) -> str:
    """The measured torch / torchaudio pairs (``kws.compat.PAIRS``) as a table, those within the
    kit's pins and CI's two ends marked."""
    from kws import compat  # its table and pins; torchaudio is not imported for them

    torch_range, audio_range = (
        SpecifierSet(compat.TORCH_RANGE),
        SpecifierSet(compat.TORCHAUDIO_RANGE),
    )
    rows = ["| torch | torchaudio | result | note |", "|---|---|---|---|"]
    for pair in compat.PAIRS:
        result = "loads and runs" if pair.loads else f"does not load: `{pair.error}`"
        notes = []
        if "+cpu" in pair.torch:
            notes.append("the CPU-only build, with the registry's CUDA torchaudio")
        elif torch_range.contains(pair.torch) and audio_range.contains(pair.torchaudio):
            notes.append("within the kit's pins")
        if pair in compat.ENDS:
            notes.append("CI's " + ("oldest" if pair == compat.LOWEST else "newest") + " end")
        rows.append(f"| {pair.torch} | {pair.torchaudio} | {result} | {', '.join(notes)} |")
    return "\n".join(rows)


def torch_pins(sections: dict) -> str:
    """The kit's pins and the date the pairs were measured, for a sentence."""
    from kws import compat

    return (
        f"`torch{compat.TORCH_RANGE}` with `torchaudio{compat.TORCHAUDIO_RANGE}` (pairs measured on "
        f"{compat.MEASURED_ON})"
    )


RENDER = {
    "torch:pairs": torch_pairs,
    "torch:pins": torch_pins,
    "cli:commands": commands,
    "specs:tiers-table": tiers_table,
    "figures:real-speech-table": real_speech_table,
    "figures:notebook-01-real": notebook_01_real,
    "figures:real-speech-per-class": real_speech_per_class,
    "figures:demo-time": demo_time,
    "figures:suite-time": suite_time,
    "figures:suite-full-time": suite_full_time,
    "figures:demo-table": demo_table,
    "figures:grading-table": grading_table,
    "figures:grading-peak": grading_peak,
    "figures:report-time": report_time,
    "figures:handin-time": handin_time,
    "figures:rehearsal-time": rehearsal_time,
    "figures:rehearsal-again-time": rehearsal_again_time,
    "figures:provenance": provenance,
    "figures:private-variant-table": private_variant_table,
    "figures:private-variant-lookup": private_variant_lookup,
    "figures:private-variant-robust": private_variant_robust,
    "figures:speaker-private-table": speaker_private_table,
    "figures:speaker-private-tier-changes": speaker_private_tier_changes,
    "figures:speaker-private-honest-flags": speaker_private_honest_flags,
    "figures:tier-seeds": tier_seeds,
    "figures:gpu-check": gpu_check,
}


def render(markdown: str, sections: dict | None = None, where: str = "a page") -> str:
    """``markdown`` with every placeholder replaced by its generated text.

    Raises:
        ValueError: a placeholder names no renderer (the message lists them).
    """
    sections = figures.load() if sections is None else sections

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in RENDER:
            known = ", ".join(sorted(RENDER))
            raise ValueError(f"{where}: unknown placeholder {{{{ {name} }}}}; known: {known}")
        return RENDER[name](sections)

    return PLACEHOLDER.sub(replace, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return render(markdown, where=page.file.src_uri)
