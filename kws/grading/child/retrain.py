"""The re-training child: run a whole submitted notebook on the grader's GPU, then grade it.

Started in the sandbox by the grader's tests marked ``gpu``::

    python -m kws.grading.child.retrain --retrain-data DATA --retrain-steps 2000 \\
        <kws.grading.child.runner arguments, e.g. --outputs retrained --device cuda>

The notebook is executed top to bottom with nbclient, its settings taken from the environment as the
`parameters` cell reads them (KWS_DATA_DIR, KWS_OUT_DIR, KWS_STEPS, KWS_DEVICE, KWS_SEED); its
outputs land in ``submission/<outputs>``, which `kws.grading.child.runner` then grades exactly like
a handed-in checkpoint. The hidden labels stay hidden: the grader hides the label folders (the
12-class test set, ``speaker_features_hidden``) from this child.
"""

import argparse
import os
import sys
from pathlib import Path

from kws.grading.child import runner
from kws.notebooks import execute_notebook


def main(argv: list[str] | None = None) -> None:
    token = sys.stdin.readline().strip()  # before any student code can read stdin
    parser = argparse.ArgumentParser(prog="python -m kws.grading.child.retrain", add_help=False)
    parser.add_argument("--retrain-data", required=True, help="training data (test labels hidden)")
    parser.add_argument(
        "--retrain-steps", type=int, required=True, help="KWS_STEPS for the notebook"
    )
    parser.add_argument("--retrain-seed", type=int, default=0)
    parser.add_argument("--cell-timeout", type=int, default=3600)
    args, runner_argv = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    where = _runner_paths(runner_argv)
    os.environ.update(
        KWS_DATA_DIR=args.retrain_data,
        KWS_OUT_DIR=where["outputs"],
        KWS_STEPS=str(args.retrain_steps),
        KWS_DEVICE=where["device"],
        KWS_SEED=str(args.retrain_seed),
    )
    errors = {}
    try:
        notebook = runner.find_notebook(where["submission"], where["notebook"], where["classes"])
        execute_notebook(notebook, timeout=args.cell_timeout)
    except Exception as error:  # a failing cell, a missing notebook: reported, then graded anyway
        errors["retrain"] = _describe(error)
    runner.main(runner_argv, token=token, errors=errors)


def _runner_paths(runner_argv: list[str]) -> dict:
    """The runner arguments the notebook run needs: notebook, outputs folder, device."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--submission", type=Path, default=Path("submission"))
    parser.add_argument("--notebook", required=True)
    parser.add_argument("--outputs", default="outputs")
    parser.add_argument("--classes", action="append", default=[])
    parser.add_argument("--device", default="cuda")
    known, _ = parser.parse_known_args(runner_argv)
    return {
        "submission": known.submission,
        "notebook": known.notebook,
        "outputs": str(known.submission.resolve() / known.outputs),
        "classes": known.classes,
        "device": known.device,
    }


def _describe(error: Exception) -> str:
    """The failing cell's error in one line (nbclient puts the traceback in the message)."""
    name = getattr(error, "ename", type(error).__name__)
    value = getattr(error, "evalue", str(error).strip().splitlines()[-1:] or [""])
    value = value if isinstance(value, str) else value[0]
    return f"{name}: {value[:300]}"


if __name__ == "__main__":
    main()
