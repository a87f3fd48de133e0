"""A corpus of broken and malicious submissions for notebook 02, built from the reference one.

Each `Case` copies the reference submission (the executed solution notebook 02 and its outputs)
and damages one thing: a model cell, a checkpoint, a config, or adds an attack to a model cell.
`Case.lost` names, per case, the tests that must lose their points and a phrase each reason must
contain; every other test must keep its full points. Attacks that only try something forbidden
(reading the labels, writing the grader's files, killing the parent, the network) raise an
error when they succeed, so a working attack shows up as lost points with its finding.

    build_corpus(reference, corpus_dir, context)  # one folder per case
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch
from corpus_attacks import (
    ATEXIT_FORGE,
    BUFFER_NEW,
    BUFFER_OLD,
    DETECT_CALLER,
    DETECT_MODE,
    DETECT_PROFILER,
    DISGUISE_MODULE,
    FAKE_RESULT,
    FAKE_STDOUT,
    FORGE_PROBE,
    FORK_BOMB,
    GIGANTIC_OUTPUT,
    KILL_PARENT,
    MARKER,
    MEMORY_BOMB,
    PATCH_CALL,
    PATCH_STDLIB,
    SEE_OTHER_PROCESSES,
    TORCH_LAYERS,
    WRAPPED_LAYER,
    Context,
    extra_layers,
    network,
    read_kit_and_results,
    read_labels,
    refiner_state,
    trace_aware,
    write_files,
)
from corpus_csv import csv_cases
from corpus_grading import build_cases
from corpus_handins import handin_cases
from corpus_numeric import NUMERIC_POINTS, NUMERIC_TESTS, with_numeric
from corpus_rewrites import rewrite_cases

NOTEBOOK = "02_speaker_id.ipynb"

# Short names of graded_tests/test_02_speaker_id.py's tests (results.json "name" = docstring + param).
TESTS = {
    "load1": "Model builds from config.json and loads model.pt [task1]",
    "load2": "Model builds from config.json and loads model.pt [task2]",
    "load3": "Model builds from config.json and loads model.pt [task3]",
    "layers": "Task 1: fewer than 4 encoder layers run in forward",
    "params": "Task 1: the encoder block has fewer than 500k parameters",
    "scratch1": "Your own layers: defined in the notebook, no library Transformer/Conformer in "
    "forward [task1]",
    "scratch2": "Your own layers: defined in the notebook, no library Transformer/Conformer in "
    "forward [task2]",
    "scratch3": "Task 3: your own attention pooling, no library Transformer or attention layer in "
    "forward",
    "norm": "Task 2: a normalization feeds the classifier's final Linear",
    "acc1": "Accuracy on the hidden test labels (partial credit by tier) [task1]",
    "acc2": "Accuracy on the hidden test labels (partial credit by tier) [task2]",
    "acc3": "Accuracy on the hidden test labels (partial credit by tier) [task3]",
    "csv1": "predictions.csv: Id,Category with one known speaker per test utterance [task1]",
    "csv2": "predictions.csv: Id,Category with one known speaker per test utterance [task2]",
    "csv3": "predictions.csv: Id,Category with one known speaker per test utterance [task3]",
} | NUMERIC_TESTS  # and graded_tests/test_02_numeric.py's
POINTS = {name: 1 for name in TESTS} | {
    n: 2 for n in ["layers", "params", "scratch1", "scratch2", "norm"]
}
POINTS |= {"acc1": 5, "acc2": 5, "acc3": 5} | NUMERIC_POINTS
CHILD_TESTS = [name for name in TESTS if not name.startswith("csv")]  # read the grading child
PROBE_TESTS = ["layers", "params", "scratch1", "scratch2", "scratch3", "norm"]
TASK1 = ["load1", "acc1"]  # what a task1 checkpoint problem costs (the probes use a fresh model)


@dataclass(frozen=True)
class Case:
    name: str
    damage: Callable[[Path, Context], None]  # edits the copied submission folder
    lost: dict[str, str] = field(default_factory=dict)  # test -> phrase of its reason


# ---- editing a copied submission --------------------------------------------------------------


def _read(folder: Path) -> nbformat.NotebookNode:
    return nbformat.read(folder / NOTEBOOK, as_version=4)


def _model_cell(nb, class_name: str) -> nbformat.NotebookNode:
    """The model cell defining `class_name`."""
    return next(
        c
        for c in nb.cells
        if "model" in c.metadata.get("tags", []) and f"class {class_name}(" in c.source
    )


def edit_cell(class_name: str, edit: Callable[[str], str]) -> Callable[[Path, Context], None]:
    """Damage: rewrite the source of the model cell that defines `class_name`."""

    def damage(folder: Path, context: Context) -> None:
        nb = _read(folder)
        cell = _model_cell(nb, class_name)
        new = edit(cell.source)
        assert new != cell.source, f"the edit of {class_name}'s cell changed nothing"
        cell.source = new
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(source: str) -> str:
        assert source.count(old) == 1, f"{old!r} is not in the cell exactly once"
        return source.replace(old, new)

    return edit


def append(code: str) -> Callable[[str], str]:
    return lambda source: source + "\n\n" + code


def attack(code: Callable[[Context], str]) -> Callable[[Path, Context], None]:
    """Damage: code (given the context) appended to the first model cell."""

    def damage(folder: Path, context: Context) -> None:
        edit_cell("SpeakerTransformer", append(code(context)))(folder, context)

    return damage


def delete_output(task: str, name: str) -> Callable[[Path, Context], None]:
    return lambda folder, context: (folder / "outputs" / task / name).unlink()


def edit_config(task: str, **changes) -> Callable[[Path, Context], None]:
    def damage(folder: Path, context: Context) -> None:
        path = folder / "outputs" / task / "config.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | changes))

    return damage


def edit_state(task: str, edit: Callable[[dict], dict]) -> Callable[[Path, Context], None]:
    def damage(folder: Path, context: Context) -> None:
        path = folder / "outputs" / task / "model.pt"
        torch.save(edit(torch.load(path, weights_only=True)), path)

    return damage


def _nan(state: dict) -> dict:
    return {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in state.items()}


def _wrong_shape(state: dict) -> dict:
    key = "prenet.weight"
    return state | {key: torch.zeros(state[key].shape[0] + 1, state[key].shape[1])}


class _Payload:
    """A pickle that would run code on load: `torch.load(weights_only=False)` would call it,
    leaving a marker in the loader's working folder (a grader's: the results folder)."""

    def __reduce__(self):
        return (exec, (f"open({MARKER + '-pickle'!r}, 'w').write('ran')",))


def _tampered(folder: Path, context: Context) -> None:
    # no path of this run in the pickle: the same bytes, so the same record key, in every run
    torch.save({"prenet.weight": _Payload()}, folder / "outputs/task1/model.pt")


def _delete_cell(class_name: str) -> Callable[[Path, Context], None]:
    def damage(folder: Path, context: Context) -> None:
        nb = _read(folder)
        nb.cells.remove(_model_cell(nb, class_name))
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def _move_first(class_name: str, prefix: str = "") -> Callable[[Path, Context], None]:
    """Move the model cell of `class_name` before every other cell (with `prefix` code)."""

    def damage(folder: Path, context: Context) -> None:
        nb = _read(folder)
        cell = _model_cell(nb, class_name)
        nb.cells.remove(cell)
        cell.source = prefix + cell.source
        nb.cells.insert(0, cell)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def _both(*damages: Callable[[Path, Context], None]) -> Callable[[Path, Context], None]:
    def damage(folder: Path, context: Context) -> None:
        for one in damages:
            one(folder, context)

    return damage


def _trace_aware(detect: str) -> Callable[[Path, Context], None]:
    old, new = trace_aware(detect)
    return edit_cell("SpeakerTransformer", lambda s: replace(old, new)(s) + "\n" + TORCH_LAYERS)


def _extra_layers(folder: Path, context: Context) -> None:
    edit_cell("SpeakerTransformer", extra_layers)(folder, context)
    source = _model_cell(_read(folder), "SpeakerTransformer").source
    kwargs = json.loads((folder / "outputs/task1/config.json").read_text())["kwargs"]
    edit_state("task1", lambda state: refiner_state(source, kwargs, state))(folder, context)


TRACED_DIFFERS = "computes something else while the grader traces it"
TASK1_STRUCTURE = ["layers", "params", "scratch1"]


# A forward that never returns, asleep (a deadlock's hang): the wall clock stops it either way,
# and a spinning one would only load the machine running the tests.
HANG_FORWARD = replace(
    "        h = self.prenet(x)  # (B, T, D)\n        for block in self.encoder:",
    "        import time\n\n        while True:\n            time.sleep(1)\n"
    "        h = self.prenet(x)  # (B, T, D)\n        for block in self.encoder:",
)


def cases() -> list[Case]:
    """The corpus: one case per way a submission can go wrong, with the points it must lose."""
    child_lost = lambda phrase: dict.fromkeys(CHILD_TESTS, phrase)  # noqa: E731
    timeout = child_lost("took too long")
    return [
        Case(
            "crash",
            edit_cell("SpeakerTransformer", append('raise RuntimeError("corpus crash")')),
            child_lost("RuntimeError: corpus crash (model cell 1, line"),
        ),
        Case("hang_in_forward", edit_cell("SpeakerConformer", HANG_FORWARD), timeout),
        Case(
            "memory_bomb",
            edit_cell("SpeakerTransformer", append(MEMORY_BOMB)),
            child_lost("can't allocate memory"),
        ),
        Case("fork_bomb", edit_cell("SpeakerTransformer", append(FORK_BOMB)), timeout),
        Case(
            "syntax_error",
            edit_cell("SpeakerConformer", replace("class FeedForward(nn.Module):", "class (:")),
            child_lost("SyntaxError: invalid syntax (model cell 2, line"),
        ),
        Case(
            "deleted_model_cell",
            _delete_cell("SpeakerConformer"),
            dict.fromkeys(["load2", "scratch2", "norm", "acc2"], "do not define")
            | dict.fromkeys(["load3", "scratch3", "acc3"], "name 'ConformerBlock' is not defined"),
        ),
        Case("reordered_cells_still_define_all", _move_first("SpeakerAttentionAMS")),
        Case(
            "reordered_cells_use_before_definition",
            _move_first("SpeakerConformer", "class TunedLayer(EncoderLayer):\n    pass\n\n"),
            child_lost("NameError: name 'EncoderLayer' is not defined (model cell 1, line 1)"),
        ),
        Case(
            "missing_model_pt",
            delete_output("task1", "model.pt"),
            dict.fromkeys(TASK1, "task1/model.pt is missing"),
        ),
        Case(
            "missing_config_json",
            delete_output("task3", "config.json"),
            dict.fromkeys(["load3", "scratch3", "acc3"], "task3/config.json is missing"),
        ),
        Case(
            "missing_predictions_csv",  # notebook 02's accuracy is scored from the file
            delete_output("task3", "predictions.csv"),
            {"csv3": "predictions.csv is missing", "acc3": "predictions.csv is missing"},
        ),
        Case(
            "unknown_class_in_config",
            edit_config("task2", **{"class": "MyConformer"}),
            dict.fromkeys(["load2", "scratch2", "norm", "acc2"], "names class 'MyConformer'"),
        ),
        Case("nan_model", edit_state("task1", _nan), dict.fromkeys(TASK1, "NaN")),
        Case(
            "wrong_shapes",
            edit_state("task1", _wrong_shape),
            dict.fromkeys(TASK1, "config.json and model.pt disagree"),
        ),
        Case("tampered_checkpoint", _tampered, dict.fromkeys(TASK1, "cannot be loaded safely")),
        Case("gigantic_output", edit_cell("SpeakerTransformer", append(GIGANTIC_OUTPUT))),
        Case("read_hidden_labels", attack(read_labels)),
        Case("write_grader_files", attack(write_files)),
        Case("kill_the_parent", attack(lambda context: KILL_PARENT)),
        Case("network", attack(network)),
        Case(
            "fake_stdout_results",
            edit_cell("SpeakerTransformer", append(FAKE_STDOUT)),
            child_lost("printed fake results, then failed"),
        ),
        Case(
            "fake_result_file",
            edit_cell("SpeakerTransformer", append(FAKE_RESULT)),
            child_lost("does not carry this run's token"),
        ),
        Case(
            "torch_layer_under_skeleton_name",
            edit_cell(
                "SpeakerTransformer",
                replace("\n\nclass Encoder(", WRAPPED_LAYER + "\n\nclass Encoder("),
            ),
            {"scratch1": "runs torch.nn.TransformerEncoderLayer"},
        ),
        Case(
            "disguised_torch_module",
            edit_cell(
                "SpeakerTransformer",
                replace("\n\nclass Encoder(", DISGUISE_MODULE + "\n\nclass Encoder("),
            ),
            dict.fromkeys(PROBE_TESTS, "changes torch or the grader's code (torch.nn."),
        ),
        Case(
            "patched_module_call",
            edit_cell(
                "SpeakerTransformer",
                replace("\n\nclass Encoder(", PATCH_CALL + "\n\nclass Encoder("),
            ),
            dict.fromkeys(PROBE_TESTS, "changes torch or the grader's code (torch.nn."),
        ),
        Case(
            "patched_grader_probe",
            edit_cell(
                "SpeakerTransformer",
                replace("\n\nclass Encoder(", WRAPPED_LAYER + FORGE_PROBE + "\n\nclass Encoder("),
            ),
            dict.fromkeys(PROBE_TESTS, "kws.tracing.probes.probe_facts was replaced"),
        ),
        Case(
            "four_layers_run",
            edit_cell(
                "SpeakerTransformer",
                replace(
                    "        for layer in self.layers:",
                    "        for layer in [*self.layers, self.layers[-1]]:",  # 3 layers, 4 calls
                ),
            ),
            {"layers": "4 encoder layers ran"},
        ),
        # Integrity: what the child reports must describe the graded computation (issue 9).
        Case(
            "trace_aware_via_profiler",
            _trace_aware(DETECT_PROFILER),
            dict.fromkeys(TASK1_STRUCTURE, TRACED_DIFFERS),
        ),
        Case(
            "trace_aware_via_function_mode",
            _trace_aware(DETECT_MODE),
            dict.fromkeys(TASK1_STRUCTURE, TRACED_DIFFERS),
        ),
        Case(
            "trace_aware_via_caller",
            _trace_aware(DETECT_CALLER),
            dict.fromkeys(TASK1_STRUCTURE, TRACED_DIFFERS),
        ),
        Case(
            "atexit_rewrites_result_with_gc_token",
            edit_cell("SpeakerTransformer", append(ATEXIT_FORGE)),
            dict.fromkeys(PROBE_TESTS, "registered 1 atexit handler(s)"),
        ),
        Case(
            "patched_json_dump_and_open",
            edit_cell("SpeakerTransformer", append(PATCH_STDLIB)),
            dict.fromkeys(PROBE_TESTS, "builtins.open was replaced"),
        ),
        Case(
            "encoder_weights_as_buffers",
            _both(
                edit_cell("SpeakerTransformer", replace(BUFFER_OLD, BUFFER_NEW)),
                edit_state("task1", lambda s: s | {"encoder.memory": torch.zeros(2_370_000)}),
            ),
            {"params": "The parameter size of your encoder block is 2.52M, over the 500k"},
        ),
        Case(
            "extra_layers_outside_encoder_other_name",
            _extra_layers,
            {"layers": "8 encoder layers ran in one forward"},
        ),
        Case("read_kit_solutions_and_other_results", attack(read_kit_and_results)),
        # Both sandboxes give the child a PID namespace of its own (the fallback through
        # unshare): it sees its pid 1 and itself, no other process.
        Case("see_other_processes", attack(lambda context: SEE_OTHER_PROCESSES)),
        Case(
            "norm_defined_but_unused",
            edit_cell(
                "SpeakerConformer",
                replace(
                    "return self.classifier(self.norm(pooled))", "return self.classifier(pooled)"
                ),
            ),
            {"norm": "not from a normalization"},
        ),
        *handin_cases(Case, child_lost),  # messy but correct hand-ins: tests/corpus_handins.py
        *rewrite_cases(Case),  # correct code rewritten, or written alone: tests/corpus_rewrites.py
        *csv_cases(Case, edit_cell, replace),  # cheating the CSV's accuracy
    ]


# The cases whose outcome depends on the sandbox itself: what the child can reach (signals,
# network, files, other processes), the limits it runs under, and how its end and its output
# come back through the sandbox's own processes (exit code, wall clock, pipes, result path).
# Every other case tests the parent's checks or the grading child's code, the same in both.
SANDBOX_CASES = (
    "crash",
    "hang_in_forward",
    "memory_bomb",
    "fork_bomb",
    "gigantic_output",
    "read_hidden_labels",
    "write_grader_files",
    "kill_the_parent",
    "network",
    "fake_result_file",
    "read_kit_solutions_and_other_results",
    "see_other_processes",
    "handin_nested_two_deep",
)


def build_corpus(
    reference: Path, corpus_dir: Path, context: Context, only: tuple[str, ...] | None = None
) -> dict[str, Case]:
    """One folder per case under `corpus_dir`: notebook 02 and outputs/task*, then damaged.
    `only`: the names of the cases to build (default: all)."""
    every = with_numeric(cases())
    unknown = set(only or ()) - {case.name for case in every}
    assert not unknown, f"no such corpus cases: {sorted(unknown)}"
    files = ("model.pt", "config.json", "predictions.csv")
    return build_cases(every, reference, corpus_dir, NOTEBOOK, ("task1", "task2", "task3"), only,
                       files=files, damage=lambda case, folder: case.damage(folder, context))  # fmt: skip
