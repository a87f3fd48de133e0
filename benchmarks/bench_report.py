"""How long `kws report` takes on a large class: a synthetic class of N hand-ins (default 600)
of both notebooks, graded results written with the grader's writers, then the report timed.

    python benchmarks/bench_report.py [--students 600] [--jobs 2] [--keep DIR]

Each hand-in is the released student notebook with its graded cells replaced by the reference
solution's, edited at random, differently for each student (constants changed, a third of the
calls and most arithmetic wrapped in extra arithmetic), so every hand-in has code of its own; one in twenty is a renamed
copy of another and one in fifty an unedited copy of the reference, so the report has pairs to
show. The code is never run. Prints the time of building the class and of the report (wall and CPU seconds: on a busy machine the CPU time is the steadier figure);
``--publish`` keeps them as the ``report`` section of ``kws/figures.json``, which the docs quote.
"""

import argparse
import ast
import json
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from benchlib import add_publish_options, cpu_seconds, figures_target, publish

from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.judge.tiers import TierSet, tier_credit
from kws.grading.publish.report.page import write_report
from kws.grading.publish.similarity.matches import compared_cells, match_groups
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.spec import ASSIGNMENTS

KIT = Path(__file__).resolve().parents[1]


class _Edit(ast.NodeTransformer):
    """Changes numbers, wraps a share `rate` of the calls in `x * k` and twice that share of the
    arithmetic in `x + k`, at random from a seed: code of one's own, never meant to run."""

    def __init__(self, seed: int, rate: float = 0.3):
        self.rng, self.rate = random.Random(seed), rate

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return ast.Constant(node.value + self.rng.choice([0, 1, 2, 3]))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if self.rng.random() < self.rate * 2:
            return ast.BinOp(node, ast.Add(), ast.Constant(self.rng.randint(1, 999)))
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if self.rng.random() < self.rate:
            return ast.BinOp(node, ast.Mult(), ast.Constant(self.rng.randint(2, 99)))
        return node


def _edited(source: str, seed: int) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    return ast.unparse(ast.fix_missing_locations(_Edit(seed).visit(tree)))


def _rename(source: str, seed: int) -> str:
    names = sorted(set(re.findall(r"\b([a-z_][a-z0-9_]{3,})\s*=", source)))
    chosen = random.Random(seed).sample(names, len(names) // 2)
    for name in chosen:
        source = re.sub(rf"\b{name}\b", f"{name}_v{seed % 7}", source)
    return source


def _write_class(root: Path, students: int) -> dict[str, list[str]]:
    """Write the hand-ins; return {notebook: its graded cells in the reference solution}."""
    reference = {}
    for spec in ASSIGNMENTS.values():
        solution = json.loads((KIT / "solutions" / spec.notebook).read_text())
        released = json.loads((KIT / "assignments" / spec.notebook).read_text())
        skeleton = set(compared_cells(KIT / "assignments" / spec.notebook, spec))
        cells = released["cells"]
        graded = [i for i, cell in enumerate(cells) if "".join(cell["source"]) in skeleton]
        reference[spec.name] = ["".join(solution["cells"][i]["source"]) for i in graded]
        for number in range(students):
            if number % 50 == 49:
                sources = reference[spec.name]  # an unedited copy of the reference
            elif number % 20 == 19:
                sources = [_rename(_edited(s, number - 1), number) for s in reference[spec.name]]
            else:
                sources = [_edited(s, number) for s in reference[spec.name]]
            for index, source in zip(graded, sources, strict=True):
                released["cells"][index]["source"] = source
            folder = root / "submissions" / f"student{number:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / spec.notebook).write_text(json.dumps(released))
    return reference


def _grade(root: Path, students: int) -> Path:
    """Results and a gradebook for the class, as `kws grade` writes them (scores at random)."""
    rng, out, graded = random.Random(0), root / "grades", []
    for number in range(students):
        tests = []
        for spec in ASSIGNMENTS.values():
            tiers = TierSet("synthetic-small", spec.tiers["synthetic-small"], "--dataset")
            for test, points in spec.points.items():
                facts = {"test": test, "assignment": spec.name}
                for task in (
                    [t for t in spec.tasks.values() if t.target]
                    if test == "test_accuracy"
                    else [None]
                ):
                    if task is not None:
                        fraction, output = tier_credit(
                            rng.uniform(0.4, 1.0), tiers.tiers, task.target
                        )
                        facts = facts | {"task": task.name}
                    else:
                        fraction = float(rng.random() < 0.8)
                        output = (
                            "" if fraction else f"A check failed on input {rng.randint(1, 99)}."
                        )
                    name = f"{spec.name}: {test}" + (f" [{task.name}]" if task else "")
                    status = "passed" if fraction == 1.0 else "failed"
                    tests.append(
                        TestResult(
                            name, points * fraction, points, status, output, "visible", facts
                        )
                    )
        notes = [
            f"Accuracy tiers for {s.name}: {TierSet('synthetic-small', s.tiers['synthetic-small'], '--dataset').describe()}."
            for s in ASSIGNMENTS.values()
        ]
        document = results_document(tests, output="\n\n".join(notes), execution_time=60)
        student = f"student{number:03d}"
        write_results(out / "results" / f"{student}.json", document)
        graded.append(Graded(student, document, "", rng.uniform(40, 200)))
    write_gradebook(graded, out / "gradebook.csv")
    write_run_record(out, root / "submissions", root / "data", None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=600)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build the class here and keep it")
    add_publish_options(parser, "report")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kws-bench-report-"))
    start = time.perf_counter()
    _write_class(root, args.students)
    grades = _grade(root, args.students)
    built = time.perf_counter() - start
    start, cpu = time.perf_counter(), cpu_seconds()
    written = write_report(grades, jobs=args.jobs)
    took, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    pairs = sum(m.second != "reference solution" for m in written.matches)
    groups = match_groups(written.matches)
    print(f"{args.students} hand-ins (both notebooks) built in {built:.1f} s")
    print(
        f"kws report: {took:.1f} s wall, {cpu:.1f} s CPU, {args.jobs} process(es); {pairs} pairs "
        f"in {len(groups)} groups (the largest {max((len(g.members) for g in groups), default=0)}) "
        f"and {len(written.matches) - pairs} reference matches flagged; {written.page}"
    )
    if args.keep is None:
        shutil.rmtree(root)
    target = figures_target(args)
    if target is not None:
        figures = {
            "command": "python benchmarks/bench_report.py --students 600 --jobs 2 --publish",
            "conditions": f"kws report on a synthetic class of {args.students} hand-ins of both "
            f"notebooks (never run, only compared), {args.jobs} fingerprinting processes, on "
            f"{os.cpu_count()} cores with a load average of {os.getloadavg()[0]:.1f} at the end",
            "synthetic": True,
            "students": args.students,
            "jobs": args.jobs,
            "wall_seconds": round(took, 1),
            "cpu_seconds": round(cpu, 1),
            "pairs": pairs,
            "reference_matches": len(written.matches) - pairs,
        }
        print(f"published into {publish('report', figures, target)}")


if __name__ == "__main__":
    main()
