"""Notebook 01's Task 3 and 4 cases of the grader corpus: one typical mistake each, built from
the reference submission, each losing exactly its own test (graded_tests/test_01_numeric.py,
graded_tests/test_01_keyword_spotting.py's test_recipe_schedule) with a reason naming the fix.

    build_keyword_model_corpus(reference, corpus_dir)  # one folder per case: notebook + outputs/kws
"""

import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from corpus_grading import build_cases
from corpus_rewrites import keyword_rewrite

NOTEBOOK = "01_keyword_spotting.ipynb"
GRADERS = ("test_01_keyword_spotting.py", "test_01_numeric.py")  # in the assignment's graded_tests/

# Short name -> results.json name (the test's docstring) of the tests these cases are graded by.
KEYWORD_MODEL_TESTS = {
    "load": "Model: KeywordTransformer builds from config.json and loads model.pt",
    "shape": "Model: one score per class (B, 12) for a batch of 1-second waveforms",
    "accuracy": "Accuracy on the hidden 12-class test set (partial credit by tier)",
    "pipeline": "Task 3: KeywordTransformer's logits match its pipeline recomputed with "
    "torch.nn's encoder (CLS first, positions, final norm)",
    "padding": "Task 3: samples after a clip's length do not change its logits (lengths, "
    "padding mask)",
    "eval": "Task 3: KeywordTransformer is deterministic in eval mode and gives each clip the "
    "logits it gets alone (no augmentation, dropout or batch statistics)",
    "recipe": "Task 4: the learning rate the training used warms up, then decays "
    "(OUT_DIR/kws/history.json)",
}


@dataclass(frozen=True)
class ModelCase:
    name: str
    damage: Callable[[Path], None]  # edits the copied submission folder
    lost: dict[str, str] = field(default_factory=dict)  # test -> phrase of its reason


def _edit_cell(
    marker: str, *edits: tuple[str, str], notebook: str = NOTEBOOK
) -> Callable[[Path], None]:
    """Damage: replace each (old, new) once in `notebook`'s code cell whose source contains
    `marker`."""

    def damage(folder: Path) -> None:
        nb = nbformat.read(folder / notebook, as_version=4)
        (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
        for old, new in edits:
            assert cell.source.count(old) == 1, f"{old!r} is not in the cell exactly once"
            cell.source = cell.source.replace(old, new)
        nbformat.write(nb, folder / notebook)

    return damage


def _rewritten_history(folder: Path, factor: Callable[[int, int], float]) -> None:
    """history.json's learning rates replaced by the reference's peak x `factor(step, steps)`:
    what a run with that learning_rate_factor records."""
    path = folder / "outputs" / "kws" / "history.json"
    history = json.loads(path.read_text())
    peak, steps = max(history["lr"]), len(history["lr"])
    history["lr"] = [peak * factor(step, steps) for step in range(steps)]
    path.write_text(json.dumps(history))


# A learning_rate_factor of 1.0 in the recipe cell.
_constant_factor = _edit_cell(
    "def learning_rate_factor(",
    ("warmup = max(1, total_steps // 10)", "return 1.0  # no schedule\n    warmup = 1"),
)


def _constant_rate(folder: Path) -> None:
    """A learning_rate_factor of 1.0, and the history.json a run with it writes."""
    _constant_factor(folder)
    _rewritten_history(folder, lambda step, total: 1.0)


def _warmup_rounded_to_nothing(folder: Path) -> None:
    """A 5 % warm-up written with int(): 0 steps in the corpus's 6-step run (no max(1, ...))."""
    _edit_cell(
        "def learning_rate_factor(",
        ("warmup = max(1, total_steps // 10)", "warmup = int(0.05 * total_steps)"),
    )(folder)

    def factor(step: int, total: int) -> float:  # the edited cell's function, as fit() used it
        warmup = int(0.05 * total)
        if step < warmup:
            return step / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    _rewritten_history(folder, factor)


KWS = "class KeywordTransformer("


def keyword_model_cases() -> list[ModelCase]:
    return [
        # correct code rewritten: names, comments, statement order (tests/corpus_rewrites.py)
        ModelCase("rewrite_renamed_and_reordered", keyword_rewrite),
        ModelCase(
            "forward_ignores_lengths",
            _edit_cell(KWS, ("if lengths is None:", "if True:  # lengths ignored")),
            {"padding": "forward ignores `lengths`"},
        ),
        ModelCase(  # consistently last: its own padding mask and output position
            "cls_token_appended_last",
            _edit_cell(
                KWS,
                ("torch.cat([cls, tokens], dim=1)", "torch.cat([tokens, cls], dim=1)"),
                (
                    "lengths_to_mask(token_lengths + 1, N + 1)",
                    "lengths_to_mask(token_lengths, N + 1) & (torch.arange(N + 1) < N)",
                ),
                ("self.norm(h[:, 0])", "self.norm(h[:, -1])"),
            ),
            {"pipeline": "the CLS token goes last"},
        ),
        ModelCase(
            "final_norm_skipped",
            _edit_cell(KWS, ("self.classifier(self.norm(h[:, 0]))", "self.classifier(h[:, 0])")),
            {"pipeline": "the final LayerNorm is skipped"},
        ),
        ModelCase(
            "constant_learning_rate",
            _constant_rate,
            {"recipe": "a constant rate has no warm-up"},
        ),
        ModelCase(  # the schedule is the notebook's function, which a later cell cannot edit
            # trained at a constant rate, then history.json rewritten with a warm-up and a
            # cosine: the reference's own history.json
            "history_edited_after_a_constant_run",
            _constant_factor,
            {"recipe": "the run did not use this learning_rate_factor, or history.json was edited"},
        ),
        ModelCase(  # the rule is stated in the notebook; the self-check judges STEPS too
            "warmup_rounded_to_nothing",
            _warmup_rounded_to_nothing,
            {"recipe": "so that even a short run warms up for at least one step"},
        ),
    ]


def build_keyword_model_corpus(
    reference: Path, corpus_dir: Path, only: Collection[str] | None = None
) -> dict[str, ModelCase]:
    """One folder per case under `corpus_dir`: notebook 01 and its outputs/kws, then damaged.
    `only`: the names of the cases to build (default: all)."""
    return build_cases(keyword_model_cases(), reference, corpus_dir, NOTEBOOK, ["kws"], only)
