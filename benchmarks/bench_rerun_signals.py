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
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import torch

SIGNALS = """
import json as _json, os as _os, sys as _sys, threading as _threading
import torch as _torch
def _fileno(stream):
    try:
        return stream.fileno()
    except Exception:
        return -1
_signals = {
    "ipykernel imported": "ipykernel" in _sys.modules,
    "sys.argv[0]": _os.path.basename(_sys.argv[0]) if _sys.argv else "",
    "sys.orig_argv[1:3]": _sys.orig_argv[1:3],
    "get_ipython() defined": "get_ipython" in globals(),
    "type of get_ipython()": type(get_ipython()).__name__ if "get_ipython" in globals() else "",
    "the cell's __name__": __name__,
    "sys.modules['__main__']": _sys.modules["__main__"] is _sys.modules.get(__name__),
    "type of __builtins__": type(__builtins__).__name__,
    "IPython's names": sorted(
        k for k in ("In", "Out", "_ih", "_oh", "_dh", "_i", "_ii", "_iii", "_", "__builtin__")
        if k in globals()
    ),
    "input history": [len(In), In[-1] == _i1.strip(), _i == ""] if "In" in globals() else None,
    "type of sys.stdout": type(_sys.stdout).__module__ + "." + type(_sys.stdout).__name__,
    "type of sys.stderr": type(_sys.stderr).__module__ + "." + type(_sys.stderr).__name__,
    "sys.stdout.fileno() > 2": _fileno(_sys.stdout) > 2,
    "kws.grading imported": any(m.startswith("kws.grading") for m in _sys.modules),
    "JPY_* variables": sorted(k for k in _os.environ if k.startswith("JPY")),
    "JPY_PARENT_PID is the parent": _os.environ.get("JPY_PARENT_PID") == str(_os.getppid()),
    "ipykernel's variables": sorted(
        k for k in ("TERM", "CLICOLOR", "FORCE_COLOR", "PAGER", "GIT_PAGER", "MPLBACKEND")
        if k in _os.environ
    ),
    "OMP_NUM_THREADS set": "OMP_NUM_THREADS" in _os.environ,
    "environment variables": len(_os.environ),
    "threads": _threading.active_count(),
    "thread names": sorted(t.name for t in _threading.enumerate()),
    "torch threads": _torch.get_num_threads(),
}
print("SIGNALS " + _json.dumps(_signals), file=_sys.stderr, flush=True)
"""
# Signals that cannot be made equal, and why (docs/reference/threat-model.md).
UNMATCHABLE = {
    "environment variables": "the count is the student's own machine's; the child has a login "
    "shell's and Jupyter's variables",
    "torch threads": "the notebook's machine decides; the child has the grader's thread limit",
}
NOT_IN_A_NOTEBOOK = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTEST_CURRENT_TEST")
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
    """The signals as a Jupyter kernel shows them (started without the thread settings a
    benchmark shell may have, nor pytest's marker, which changes ipykernel's streams: a
    notebook's kernel has neither)."""
    from kws.notebooks import execute_notebook

    path = _notebook(work / "kernel")
    saved = {k: os.environ.pop(k) for k in NOT_IN_A_NOTEBOOK if k in os.environ}
    try:
        execute_notebook(path, timeout=300, save_to=path)
    finally:
        os.environ.update(saved)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    return _signals("".join(o.get("text", "") for o in outputs if o.get("name") == "stderr"))


def in_grading_child(work: Path) -> dict:
    """The signals as the grading child shows them to a model cell."""
    from kws.grading.protocol.child_run import RUN_FILE, ChildRun
    from kws.grading.protocol.inputs import save_feature_inputs
    from kws.grading.sandbox.run import ChildJob, run_child
    from kws.grading.sandbox.supervise import Limits

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


def compare(kernel: dict, child: dict) -> list[str]:
    """The side-by-side table, then one line per signal that differs and why it may."""
    lines = [f"{'signal':30} {'Jupyter kernel':40} {'grading child':40}"]
    differ = [name for name in kernel if kernel[name] != child.get(name)]
    for name in kernel:
        mark = "  differs" if name in differ else ""
        shown = [json.dumps(side.get(name))[:38] for side in (kernel, child)]
        lines.append(f"{name:30} {shown[0]:40} {shown[1]:40}{mark}")
    unexplained = [name for name in differ if name not in UNMATCHABLE]
    for name in differ:
        lines.append(f"{name}: {UNMATCHABLE.get(name, 'differs, and should not')}")
    if not unexplained:
        lines.append(f"all signals match but {len(differ)} that cannot be matched (above)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="a folder to work in")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kws-signals-"))
    kernel, child = in_kernel(work), in_grading_child(work)
    lines = compare(kernel, child)
    print("\n".join(lines))
    return 0 if lines[-1].startswith("all signals match") else 1


if __name__ == "__main__":
    sys.exit(main())
