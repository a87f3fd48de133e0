"""What a model can cheaply look at to tell the grader's re-run from the notebook's run.

A model could answer from a table only when the grader re-runs it (docs/reference/
threat-model.md). This runs one cell that reads a few such signals twice: in a Jupyter kernel
(`kws.notebooks.execute_notebook`, as a student's notebook runs) and as a model cell in the
grading child (`kws.grading.sandbox.run.run_child`, as the grader runs it). It prints each signal
side by side and marks those that differ. Nothing is timed, so the machine's load does not
matter. Usage:

    python benchmarks/bench_rerun_signals.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import nbformat
import torch

SIGNALS = """
import json as _json, os as _os, sys as _sys, threading as _threading
import torch as _torch
_signals = {
    "ipykernel imported": "ipykernel" in _sys.modules,
    "sys.argv[0]": _os.path.basename(_sys.argv[0]) if _sys.argv else "",
    "get_ipython() defined": "get_ipython" in globals(),
    "the cell's __name__": __name__,
    "type of sys.stdout": type(_sys.stdout).__name__,
    "kws.grading imported": any(m.startswith("kws.grading") for m in _sys.modules),
    "JPY_* variables": sorted(k for k in _os.environ if k.startswith("JPY")),
    "environment variables": len(_os.environ),
    "threads": _threading.active_count(),
    "torch threads": _torch.get_num_threads(),
}
print("SIGNALS " + _json.dumps(_signals), file=_sys.stderr, flush=True)
"""
NOTEBOOK = "02_speaker_id.ipynb"  # any assignment's notebook: the child needs one it knows


def _signals(text: str) -> dict:
    line = next(line for line in text.splitlines() if line.startswith("SIGNALS "))
    return json.loads(line.removeprefix("SIGNALS "))


def _notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(SIGNALS, metadata={"tags": ["model"]})]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / NOTEBOOK)
    return folder / NOTEBOOK


def in_kernel(work: Path) -> dict:
    """The signals as a Jupyter kernel shows them."""
    from kws.notebooks import execute_notebook

    path = _notebook(work / "kernel")
    execute_notebook(path, timeout=300, save_to=path)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    return _signals("".join(o.get("text", "") for o in outputs if o.get("name") == "stderr"))


def in_grading_child(work: Path) -> dict:
    """The signals as the grading child shows them to a model cell."""
    from kws.grading.sandbox.run import ChildJob, Limits, run_child
    from kws.grading.shared.child_run import RUN_FILE, ChildRun
    from kws.grading.shared.inputs import save_feature_inputs

    submission = _notebook(work / "child" / "submission").parent
    inputs = work / "child" / "inputs.bin"
    save_feature_inputs(inputs, [torch.randn(50, 40)])
    run = ChildRun(NOTEBOOK, {"task1": "SpeakerTransformer"}, 2)
    result = run_child(
        ChildJob(
            ["-m", "kws.grading.child.runner", "{result}", f"{{work}}/{RUN_FILE}"],
            submission=submission,
            inputs={"inputs.bin": inputs, RUN_FILE: run.save(work / "child")},
            limits=Limits(wall_seconds=300, cpu_seconds=300),
        )
    )
    return _signals(result.stderr_tail)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="a folder to work in")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kws-signals-"))
    kernel, child = in_kernel(work), in_grading_child(work)
    print(f"{'signal':28} {'Jupyter kernel':32} {'grading child':32}")
    for name in kernel:
        mark = "  differs" if kernel[name] != child.get(name) else ""
        print(f"{name:28} {json.dumps(kernel[name]):32} {json.dumps(child.get(name)):32}{mark}")


if __name__ == "__main__":
    sys.exit(main())
