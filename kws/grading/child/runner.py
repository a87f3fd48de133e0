"""The grading child: run a notebook's model cells, load the checkpoint, predict, probe.

Started by the grader inside the sandbox (never imported by it for running student code)::

    python -m kws.grading.child.runner RESULT_FILE run.json

``run.json`` is the parent's `kws.grading.protocol.child_run.ChildRun`: the notebook, the tasks and
their class names, the inputs file, the number of classes, the device.

It opens its result channel first (`kws.grading.child.channel`: the one-time token from stdin, the
result file, the functions the final write needs), snapshots torch and the standard library
(`kws.tracing.trace`, `kws.tracing.guard`) and picks, in secret, which prediction
batches will be traced; then:

1. finds the notebook (`kws.grading.protocol.handin`: nested folders, a browser's renamed copy),
   makes itself look like a Jupyter kernel (`kws.grading.child.kernel`: command line, streams,
   environment, threads; its grading modules out of ``sys.modules`` while student code runs) and
   executes only its cells tagged ``model``, cell by cell, in a fresh module ``__main__``
   (IPython lines such as ``!pip install`` and ``%cd`` become calls that do nothing);
2. for each task: reads ``OUT_DIR/<task>/config.json`` (``{"task", "class", "kwargs"}``; OUT_DIR
   beside the notebook), builds the class the notebook defined with those kwargs, loads
   ``model.pt`` with ``torch.load(weights_only=True)`` (a training-checkpoint dict and the
   ``_orig_mod.`` prefix of torch.compile accepted) and strict state-dict loading;
3. predicts every unlabelled input (`kws.grading.protocol.inputs`), checking output shapes and values;
4. traces the picked prediction batches again on the CPU with the course's probes
   (`kws.tracing.probes.probe_facts`) and compares the traced logits with the graded ones, so
   the structural facts describe the computation that produced the predictions (without a loadable
   checkpoint: a small example batch, traced and untraced);
5. runs the numeric checks of every task of the notebook (`kws.grading.child.numeric`), after
   the cells a task's spec names and with the values of history.json its components read
   (`kws.grading.child.cells`).

Every failure is caught per stage and reported as a sentence naming the file, cell or value, so
one broken task does not hide the others. The payload is written as
``{"token": TOKEN, "payload": {...}}`` and the process ends right there (``os._exit``);
`kws.grading.protocol.payload.check_payload` is what the grader validates it against.
"""

import ctypes
import json
import os
import re
import sys
import time
import traceback
import types
from pathlib import Path

from kws.grading.child import buffers, cells, kernel, numeric
from kws.grading.protocol.child_run import ChildRun
from kws.grading.protocol.handin import find_notebook, outputs_folder, relative

_TODO = re.compile(r'raise NotImplementedError\("TODO: (.*?)"\)')


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


def _error(error: BaseException) -> str:
    """One line: the exception, and where in the notebook's model cells it was raised."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith("<model cell"):
            where = f" ({frame.filename[1:-1]}, line {frame.lineno})"
    if isinstance(error, SyntaxError) and str(error.filename).startswith("<model cell"):
        return f"{type(error).__name__}: {error.msg} ({error.filename[1:-1]}, line {error.lineno})"
    text = str(error).strip().splitlines()
    hint = CPU_HINT if any(marker in str(error) for marker in _CUDA_ERRORS) else ""
    return f"{type(error).__name__}: {text[0][:300] if text else ''}{where}{hint}"


def run_model_cells(notebook: Path) -> dict:
    """Execute the cells tagged `model`, in order, in a fresh module named ``__main__``, as a
    kernel running the notebook top to bottom would: every code cell up to the last model cell
    enters the input history (``In``), only the model cells run. Returns the module's namespace."""
    from kws.notebooks import cells_with_tag, python_source, read_notebook

    nb = read_notebook(notebook)
    cells = [c for c in cells_with_tag(nb, "model") if c.cell_type == "code"]
    if not cells:
        raise ValueError(
            f"{notebook.name} has no code cell tagged 'model'; keep the tags of the notebook you "
            "were given (View > Cell toolbar > Tags)"
        )
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module  # dataclasses and pickling look classes up here
    module.__dict__.update(kernel.kernel_namespace(os.getcwd()))
    shell = kernel.KernelShell(module.__dict__, "")
    module.__dict__["get_ipython"] = lambda: shell
    model = {id(cell) for cell in cells}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    last = max(i for i, cell in enumerate(code_cells) if id(cell) in model)
    number = 0
    for cell in code_cells[: last + 1]:
        if id(cell) not in model:  # in the history as written (IPython's own parser costs 0.3 s)
            kernel.record_input(module.__dict__, cell.source, cell.source)
            continue
        source = python_source(cell.source)
        kernel.record_input(module.__dict__, cell.source, source)
        number += 1
        shell.filename = f"<model cell {number}>"
        exec(compile(source, shell.filename, "exec"), module.__dict__)
    return module.__dict__


def first_todo(notebook: Path) -> str | None:
    """The first unfinished TODO left by `kws release` in the notebook's code, or None."""
    from kws.notebooks import read_notebook

    for cell in read_notebook(notebook).cells:
        if cell.cell_type == "code" and (match := _TODO.search(cell.source)):
            return match[1]
    return None


def read_config(folder: Path, task: str, ns: dict) -> tuple[type, dict]:
    """The model class and kwargs named by `folder/config.json`, checked against the notebook."""
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{task}/config.json is missing; run the notebook's saving cell and hand in its "
            "outputs/ folder beside the notebook"
        )
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(
            f"{task}/config.json is not valid JSON; save it again from the notebook"
        ) from None
    if not isinstance(config, dict) or set(config) != {"task", "class", "kwargs"}:
        raise ValueError(f'{task}/config.json must be {{"task", "class", "kwargs"}} exactly')
    if config["task"] != task or not isinstance(config["kwargs"], dict):
        raise ValueError(
            f"{task}/config.json says task {config['task']!r}; it belongs to another task"
        )
    cls = ns.get(config["class"]) if isinstance(config["class"], str) else None
    if not isinstance(cls, type):
        raise ValueError(
            f"{task}/config.json names class {config['class']!r}, which the notebook's model cells "
            "do not define"
        )
    return cls, config["kwargs"]


_TRAINING_KEYS = ("model_state_dict", "state_dict", "model")  # training-checkpoint dicts
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # torch.compile, DataParallel


def unwrap_state_dict(state, task: str) -> dict:
    """The model's state dict inside what ``torch.load`` returned: as saved, or taken out of a
    training checkpoint (``{"model_state_dict": ..., "epoch": ...}``), with the ``_orig_mod.``
    prefix of ``torch.compile`` (or ``module.`` of DataParallel) removed; ValueError otherwise."""
    import torch

    def is_state(value) -> bool:
        return isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values())

    if isinstance(state, dict) and not is_state(state):
        state = next((state[k] for k in _TRAINING_KEYS if is_state(state.get(k))), state)
    if not is_state(state) or not state:
        keys = f" (keys: {', '.join(map(str, list(state)[:5]))})" if isinstance(state, dict) else ""
        raise ValueError(
            f"{task}/model.pt is not a state dict{keys}; save model.state_dict(), not the model"
        )
    for prefix in _WRAPPER_PREFIXES:
        if all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    return state


def load_checkpoint(model, path: Path, task: str) -> None:
    """Strictly load a state dict saved with torch.save(model.state_dict(), path) (or inside a
    training checkpoint, or from a compiled model: see `unwrap_state_dict`)."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"{task}/model.pt is missing; run the notebook's saving cell")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{task}/model.pt cannot be loaded safely ({type(error).__name__}); save it with "
            "torch.save(model.state_dict(), path)"
        ) from None
    state = unwrap_state_dict(state, task)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{task}/model.pt does not match the model built from config.json: missing keys "
            f"{missing[:4]}, unexpected keys {unexpected[:4]}; save the model you trained"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ValueError(
                f"{task}/model.pt: {key} has shape {tuple(value.shape)}, the model built from "
                f"config.json expects {tuple(expected[key].shape)}; config.json and model.pt disagree"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"{task}/model.pt: {key} holds NaN or infinite values")
    model.load_state_dict(state, strict=True)


def _logits(output, batch: int, n_classes: int):
    """The (batch, n_classes) finite scores in a model's output; ValueError otherwise."""
    import torch

    logits = output[0] if isinstance(output, tuple | list) else output
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"the model returned {type(logits).__name__}, not a tensor of scores")
    if logits.shape != (batch, n_classes):
        raise ValueError(
            f"the model returned {tuple(logits.shape)} for a batch of {batch}; expected logits "
            f"({batch}, {n_classes})"
        )
    if not torch.isfinite(logits).all():
        raise ValueError("the model outputs NaN or infinite scores for some test inputs")
    return logits


# The memory bound of a prediction batch: B·T² at most this, so one (B, T, T) attention score
# matrix is 4 MiB of float32 (a model with H heads holds H of them, and a copy or two). Measured
# on the reference notebook 02 (utterances of ~775 frames, one thread): the models predict as
# many utterances per CPU-second in batches of one as in batches of six (the earlier 4,000,000),
# while those held 4 times the memory and, past glibc's 32 MiB, made the kernel map and zero
# every score matrix afresh (half the child's CPU time was the kernel's). Short inputs keep
# ChildRun.batch_size.
MAX_SCORES_PER_BATCH = 1_000_000


def prediction_batches(inputs, batch_size: int) -> list:
    """The index batches predictions run on (and the traced ones are picked from): the inputs'
    own batches, long utterances split further so that B·T² stays under MAX_SCORES_PER_BATCH
    (an utterance longer than that alone is a batch of its own)."""
    import torch

    batches = []
    for indices in inputs.index_batches(batch_size):
        frames = 1
        if inputs.kind == "features":
            frames = int(inputs.lengths[indices].max())
        size = max(1, min(len(indices), MAX_SCORES_PER_BATCH // frames**2))
        batches += list(torch.split(indices, size))
    return batches


def predict(
    model,
    inputs,
    batches: list,
    n_classes: int,
    device: str,
    keep: frozenset[int] = frozenset(),
    near: float = 0.0,
) -> tuple[list[int], list[tuple], list[list[int]] | None]:
    """Argmax class of every input, in input order; ValueError on wrong shapes or NaN.

    Returns (predictions, kept, near ties): `kept` holds (indices, logits on the CPU) of the
    batches numbered in `keep`, for the probes to trace and compare; with `near` > 0, per
    input its runner-up class when scored within `near` of its score range (max - min) from
    its top score (`_near_ties`), else None.
    """
    import torch

    predictions = torch.full((len(inputs),), -1, dtype=torch.int64)
    close: list[list[int]] = [[] for _ in range(len(inputs))]
    kept = []
    model.to(device).eval()
    try:
        with torch.no_grad():
            for number, indices in enumerate(batches):
                logits = _logits(model(*inputs.batch(indices, device)), len(indices), n_classes)
                predictions[indices] = logits.argmax(dim=1).cpu()
                if near:
                    for row, item in zip(_near_ties(logits, near), indices.tolist(), strict=True):
                        close[item] = row
                if number in keep:
                    kept.append((indices, logits.detach().cpu().clone()))
    finally:
        model.to("cpu")  # the probes trace it on the CPU
    return predictions.tolist(), kept, close if near else None


def _near_ties(logits, near: float) -> list[list[int]]:
    """Per row of `logits` (B, C): the runner-up class when it scores within `near` of the row's
    range (max - min) from the top score, else none. Only the runner-up: a model that scored
    every class nearly alike would otherwise excuse any class a predictions file names."""
    if logits.shape[1] < 2:
        return [[] for _ in range(len(logits))]
    two = logits.topk(2, dim=1)  # values, indices: (B, 2) each
    span = two.values[:, 0] - logits.min(dim=1).values  # (B,)
    gap = two.values[:, 0] - two.values[:, 1]  # (B,)
    close = (gap <= near * span) & (span > 0)  # (B,)
    runner_up = two.indices[:, 1].tolist()
    return [[c] if ok else [] for c, ok in zip(runner_up, close.tolist(), strict=True)]


def release_memory() -> None:
    """Give the memory freed since the last call back to the OS (glibc's ``malloc_trim``): the
    freed score matrices of one task's predictions would otherwise stay mapped while the next
    task allocates its own beside them, raising the child's peak. Nothing where there is no
    glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def pick_batches(total: int, count: int = 3) -> frozenset[int]:
    """`count` of `total` prediction batches to trace, chosen with the OS's randomness (before
    student code runs, so the notebook cannot know or steer which ones); all when few."""
    if total <= count:
        return frozenset(range(total))
    chosen = set()
    while len(chosen) < count:
        chosen.add(int.from_bytes(os.urandom(4), "little") % total)
    return frozenset(chosen)


def grade_task(
    task: str,
    ns: dict,
    outputs: Path,
    inputs,
    run: ChildRun,
    batches_run: list,
    trace_batches: frozenset[int],
    todo: str | None = None,
) -> dict:
    """Everything the grader needs about one task; failures land in "errors" by stage.

    `batches_run` are the prediction batches (`prediction_batches`), `trace_batches` the indices
    of those traced again by the probes (`pick_batches`).

    The probes run even when the checkpoint does not load (on the freshly built model), so the
    structural checks are graded on their own.
    """
    from kws.tracing.probes import probe_facts

    report = {"class": None, "predictions": None, "near": None, "facts": None}
    report |= {"errors": {}, "seconds": {}, "buffers": None}
    folder = outputs / task

    def attempt(stage: str, action):
        start = time.perf_counter()
        try:
            return action()
        except (Exception, SystemExit) as error:  # student code: anything can come out
            report["errors"][stage] = _error(error)
            return None
        finally:
            report["seconds"][stage] = round(time.perf_counter() - start, 3)

    config = attempt("config", lambda: read_config(folder, task, ns))
    if config is None:
        if todo:
            report["errors"]["config"] += f" (your notebook still has TODOs, the first: {todo})"
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
                model, inputs, batches_run, run.n_classes, run.device, trace_batches, run.near
            ),
        )
        if predicted is not None:
            report["predictions"], kept, report["near"] = predicted
            batches = [(inputs.batch(indices), logits) for indices, logits in kept]
    release_memory()  # the predictions' score matrices, before the probes trace
    exact = run.device == "cpu"
    rules = spec_of_notebook(run.notebook).tasks[task].rules
    report["facts"] = attempt(
        "probes", lambda: probe_facts(task, model, ns, batches, exact, rules=rules)
    )
    if report["facts"] is None:  # forward failed: the parameter budget is still graded
        report["facts"] = static_facts(model)
    release_memory()
    return report


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
    try:
        if hasattr(model, "encoder"):
            facts["encoder_params"] = encoder_params(model)
            facts["encoder_params_text"] = encoder_params_text(model)
    except Exception:  # student code (a property, a custom parameters()): no facts then
        pass
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
        payload["errors"]["notebook"] = _error(error)
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
    try:
        todo = first_todo(notebook)
        ns = run_model_cells(notebook)
    except (Exception, SystemExit) as error:
        payload["errors"]["model_cells"] = _error(error)
        return
    for task in run.tasks:
        payload["tasks"][task] = grade_task(
            task, ns, outputs, inputs, run, batches, trace_batches, todo
        )
    spec = spec_of_notebook(run.notebook)
    components = spec.checks().NUMERIC
    tasks = [*run.tasks, *spec.tasks]
    graded = graded_namespace(ns, notebook, outputs, tasks, components, spec)
    payload["numeric"] = numeric.check_classes(graded, tasks, components)


def graded_namespace(
    ns: dict, notebook: Path, outputs: Path, tasks: list[str], components: dict, spec
) -> dict:
    """What the numeric checks of `tasks` run on: the model cells' namespace `ns`, plus what
    they declare they need (`kws.grading.child.cells`): the cells `spec`'s tasks name
    (``[tasks.<task>] cells``), run after the model cells, and each `history` key of a
    component, read from OUT_DIR/<task>/history.json."""
    groups = [spec.tasks[task].cells for task in dict.fromkeys(tasks) if spec.tasks[task].cells]
    history = [
        (component.task, component.history)
        for component in components.values()
        if component.history and component.task in tasks
    ]
    return cells.with_needs(ns, notebook, outputs, groups, history)


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
