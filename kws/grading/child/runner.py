"""The grading child's entry point (``python -m kws.grading.child.runner RESULT_FILE run.json``):
run the notebook's model cells, then for each task build and load its model, predict every input
and trace some batches again with the probes, then run the numeric checks
(docs/development/architecture.md, step 6). Every failure is caught per stage and reported as a
sentence naming the file, cell or value, so that one broken task does not hide the others.
"""

import contextlib
import json
import sys
import time
import traceback
from pathlib import Path

from kws.device import DeviceName
from kws.grading.child import buffers, cells, kernel, numeric
from kws.grading.child.checkpoint import load_checkpoint, read_config
from kws.grading.child.predictions import pick_batches, predict, prediction_batches, release_memory
from kws.grading.protocol.child_run import ChildRun
from kws.grading.protocol.handin import find_notebook, outputs_folder, relative
from kws.i18n import Text
from kws.i18n import gettext as _

# The facts whose text a student reads (`shown_facts`)
SHOWN_FACTS = ("traced_mismatch", "unsteady", "layer_class_problem", "norm_before_classifier",
               "class_problems")  # fmt: skip
_CUDA_ERRORS = (
    "Torch not compiled with CUDA enabled",
    "No CUDA GPUs are available",
    "Found no NVIDIA driver",
    "CUDA driver",
    "Expected all tensors to be on the same device",
)
CPU_HINT = (
    "; grading runs on the CPU: do not call .cuda() or .to('cuda') in the model, create tensors "
    "on the input's device instead, e.g. torch.zeros(n, device=x.device)"
)


def device_hint(device: DeviceName) -> str:
    """What to fix when a model's tensors are not where grading runs it (`CPU_HINT` on the CPU,
    however it is named)."""
    if device.is_cpu:
        return CPU_HINT
    return (
        f"; grading runs on {device}: create every tensor on the input's device, e.g. "
        "torch.zeros(n, device=x.device), never on the CPU or with .cuda()"
    )


def _error(error: BaseException, device: DeviceName) -> str:
    """One line: the exception, where in the notebook's model cells it was raised, and for a
    tensor on the wrong device, the fix where grading runs (`device`)."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith("<model cell"):
            where = f" ({frame.filename[1:-1]}, line {frame.lineno})"
    if isinstance(error, SyntaxError) and str(error.filename).startswith("<model cell"):
        return f"{type(error).__name__}: {error.msg} ({error.filename[1:-1]}, line {error.lineno})"
    text = str(error).strip().splitlines()
    hint = device_hint(device) if any(marker in str(error) for marker in _CUDA_ERRORS) else ""
    return f"{type(error).__name__}: {text[0][:300] if text else ''}{where}{hint}"


def grade_task(
    task: str,
    ns: dict,
    outputs: Path,
    inputs,
    run: ChildRun,
    batches_run: list,
    trace_batches: frozenset[int],
    todo: str | None = None,
    *,
    exact: bool,
) -> dict:
    """Everything the grader needs about one task; failures land in "errors" by stage.

    `batches_run` are the prediction batches (`prediction_batches`), `trace_batches` the indices
    of those traced again by the probes (`pick_batches`); `exact`: the graded outputs came from
    the CPU, so the traced ones must equal them bit for bit (decided from ``run.device`` before
    student code runs, which could change how a device reads).

    The probes run even when the checkpoint does not load (on the freshly built model), so the
    structural checks are graded on their own.
    """
    from kws.tracing.probes import probe_facts

    device = str(run.device)  # as the parent named it: predictions run there
    report = {"class": None, "predictions": None, "near": None, "facts": None}
    report |= {"errors": {}, "seconds": {}, "buffers": None}
    folder = outputs / task

    def attempt(stage: str, action):
        start = time.perf_counter()
        try:
            return action()
        except (Exception, SystemExit) as error:  # student code: anything can come out
            report["errors"][stage] = _error(error, run.device)
            return None
        finally:
            report["seconds"][stage] = round(time.perf_counter() - start, 3)

    config = attempt("config", lambda: read_config(folder, task, ns))
    if config is None:
        if todo:
            report["errors"]["config"] += " " + _(
                "(your notebook still has TODOs, the first: {todo})"
            ).format(todo=todo)
        return report
    cls, kwargs = config
    report["class"] = cls.__name__
    model = attempt("build", lambda: cls(**kwargs))
    if model is None:
        return report
    built = _quietly(lambda: buffers.snapshot(model))
    batches = inputs.example()  # traced and untraced when no graded predictions exist
    if attempt("checkpoint", lambda: load_checkpoint(model, folder / "model.pt", task) or True):
        if built is not None:
            report["buffers"] = _quietly(
                lambda: buffers.compare_with_construction(model, built, lambda: cls(**kwargs))
            )
        predicted = attempt(
            "evaluate",
            lambda: predict(
                model, inputs, batches_run, run.n_classes, device, trace_batches, run.near
            ),
        )
        if predicted is not None:
            report["predictions"], kept, report["near"] = predicted
            batches = [(inputs.batch(indices), logits, seed) for indices, logits, seed in kept]
    release_memory()  # the predictions' score matrices, before the probes trace
    rules = spec_of_notebook(run.notebook).tasks[task].rules
    report["facts"] = attempt(
        "probes", lambda: probe_facts(task, model, ns, batches, exact, rules=rules)
    )
    if report["facts"] is None:  # forward failed: the parameter budget is still graded
        report["facts"] = static_facts(model)
    report["facts"]["shown"] = shown_facts(report["facts"])
    release_memory()
    return report


def shown_facts(facts: dict) -> str:
    """The facts a student reads in a graded test's message (`SHOWN_FACTS`: a rule's
    explanation, why the model is unsteady or computes something else when traced, why its
    layer class or another class is not the notebook's own) as their messages and values
    (`kws.i18n.portable`; {class name: that} for ``class_problems``),
    one flat JSON string the grader shows in the course's language
    (`kws.grading.judge.facts.shown_fact`); "" when too long (the grader then shows English)."""
    texts = {}
    for key in SHOWN_FACTS:
        value = facts.get(key)
        if isinstance(value, list | tuple) and len(value) == 2:  # a rule's (passed, why)
            value = value[1]
        if isinstance(value, Text):
            texts[key] = value.portable()
        elif isinstance(value, dict):
            texts[key] = {k: v.portable() for k, v in value.items() if isinstance(v, Text)}
    said = json.dumps(texts, ensure_ascii=False) if texts else ""
    return said if len(said) <= numeric.MAX_SHOWN else ""


def _quietly(action):
    """`action()` with torch's random state kept as it was (a second build of the model draws
    its weights), None when student code raises: a finding for a person, never a lost test."""
    import torch

    try:
        with torch.random.fork_rng(devices=[]):
            return action()
    except (Exception, SystemExit):
        return None


def static_facts(model) -> dict:
    """The facts that need no forward pass (the encoder's parameter count), for a model whose
    forward fails on the grader's CPU; `tampering` is empty as nothing was traced."""
    from kws.tracing.probes import encoder_params, encoder_params_text

    facts = {"encoder_params": None, "encoder_params_text": None, "tampering": []}
    facts["attention_modules"] = []  # nothing ran: the parent counts the checkpoint's encoder.*
    facts["attention_sizes"] = None
    # student code (a property, a custom parameters()) may raise: no facts then
    with contextlib.suppress(Exception):
        if hasattr(model, "encoder"):
            facts["encoder_params"] = encoder_params(model)
            facts["encoder_params_text"] = encoder_params_text(model)
    return facts


def main(
    argv: list[str] | None = None, token: str | None = None, errors: dict | None = None
) -> None:
    """Grade the run ``argv = [RESULT_FILE, RUN_FILE]`` describes (`ChildRun`); `token` and earlier
    `errors` come from the re-training child (`kws.grading.child.retrain`).

    Never returns: the result is written and the process ends (`ResultChannel.send`).
    """
    result_file, run_file = parse_arguments(sys.argv[1:] if argv is None else argv)

    from kws.grading.child.channel import ResultChannel

    channel = ResultChannel.open(result_file, token)  # before any student code can read stdin

    from kws.grading.protocol.inputs import load_inputs
    from kws.tracing.trace import capture_originals, verify_untampered

    run = ChildRun.load(run_file)
    submission = Path(run.submission).resolve()  # absolute: a model cell may change directory
    inputs = load_inputs(Path(run.inputs))
    batches = prediction_batches(inputs, run.batch_size)
    trace_batches = pick_batches(len(batches))
    # A kernel's command line, streams, environment and helper threads (kws.grading.child.kernel),
    # then the genuine torch and standard-library objects, before student code can replace them
    # (the snapshot counts the kernel's threads as the child's own).
    kernel.look_like_a_kernel()
    capture_originals(stdlib=True)
    payload = {"notebook": None, "errors": dict(errors or {}), "tasks": {}, "tampering": []}
    payload["numeric"] = {}  # kws.grading.child.numeric's facts on the notebook's classes
    try:
        notebook = find_notebook(submission, run.notebook, list(run.classes.values()))
        payload["notebook"] = relative(notebook, submission)
    except (Exception, SystemExit) as error:
        payload["errors"]["notebook"] = _error(error, run.device)
    else:
        # From here on student code runs, with the kit's grading modules out of sys.modules.
        outputs = outputs_folder(submission, notebook, run.outputs)
        with kernel.hidden_modules("kws.grading"):
            fill_payload(payload, notebook, outputs, run, inputs, batches, trace_batches)
    payload["tampering"] = verify_untampered()
    channel.send(payload)


def fill_payload(
    payload: dict, notebook: Path, outputs: Path, run: ChildRun, inputs, batches, trace_batches
) -> None:
    """Run the notebook's model cells, then fill `payload` with each task's report
    (`grade_task`, on the checkpoints in `outputs`) and the numeric checks; a failure of the
    model cells lands in its errors."""
    exact = run.device.is_cpu  # before student code runs
    try:
        todo = cells.first_todo(notebook)
        ns = cells.run_model_cells(notebook)
    except (Exception, SystemExit) as error:
        payload["errors"]["model_cells"] = _error(error, run.device)
        return
    for task in run.tasks:
        payload["tasks"][task] = grade_task(
            task, ns, outputs, inputs, run, batches, trace_batches, todo, exact=exact
        )
    spec = spec_of_notebook(run.notebook)
    components = spec.numeric_components()
    tasks = [*run.tasks, *spec.tasks]
    # The numeric checks run on the model cells' namespace plus what they declare they need
    # (`kws.grading.child.cells`): the cells the spec's tasks name (``[tasks.<task>] cells``),
    # run after the model cells, and each `history` key of a component, read from
    # OUT_DIR/<task>/history.json.
    groups = [spec.tasks[task].cells for task in dict.fromkeys(tasks) if spec.tasks[task].cells]
    history = [(c.task, c.history) for c in components.values() if c.history and c.task in tasks]
    graded = cells.with_needs(ns, notebook, outputs, groups, history)
    payload["numeric"] = numeric.check_classes(graded, tasks, components)


def spec_of_notebook(notebook: str):
    """The assignment (`kws.spec.Spec`) whose notebook is `notebook`: its tasks (a task
    such as keyword spotting's data task has no checkpoint of its own but numeric checks), its
    structural rules and its numeric checks."""
    from kws.spec import ASSIGNMENTS

    for spec in ASSIGNMENTS.values():
        if spec.notebook == notebook:
            return spec
    raise ValueError(f"no assignment has the notebook {notebook}; expected one of the specs'")


def parse_arguments(argv: list[str]) -> tuple[Path, Path]:
    """(result file, run file) from the command line, or exit with the usage."""
    if len(argv) != 2:
        raise SystemExit(f"usage: python -m {__spec__.name if __spec__ else __name__} RESULT RUN")
    return Path(argv[0]), Path(argv[1])


if __name__ == "__main__":
    main()
