"""Notebook 01's cases in the grader corpus: one typical mistake per task, each losing exactly
that task's tests (graded by graded_tests/test_01_keyword_spotting.py and graded_tests/test_01_tasks.py).

    build_keyword_corpus(reference, corpus_dir)   # one folder per case: notebook 01 + outputs/kws
"""

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch
from corpus_grading import build_cases
from corpus_rewrites import keyword_rewrite

NOTEBOOK = "01_keyword_spotting.ipynb"

# Short name -> results.json name (the test's docstring) of notebook 01's tests, except the gpu one.
KEYWORD_TESTS = {
    "kws_load": "Model: KeywordTransformer builds from config.json and loads model.pt",
    "kws_shape": "Model: one score per class (B, 12) for a batch of 1-second waveforms",
    "kws_accuracy": "Accuracy on the hidden 12-class test set (partial credit by tier)",
    "data_keywords": "Task 1: twelve_class_labels keeps every keyword clip with its word, and "
    "labels nothing else a keyword",
    "data_unknown": "Task 1: _unknown_ is down-sampled to round(unknown_fraction x keyword clips), "
    "drawn at random from many words, seeded",
    "data_silence": "Task 1: silence_windows cuts (count, length) random slices of random noise "
    "recordings, seeded",
    "tokens_lengths": "Task 2: ConvTokenizer's token lengths are the tokens each clip gives alone "
    "(padding masked right)",
    "tokens_budget": "Task 2: one second of audio becomes at most max_tokens tokens (CLS included) "
    "in the attention that runs",
    "tokens_memory": "Task 2: the attention maps of a training batch (every layer and head, "
    "float32) fit the memory budget",
}
# Tests whose failure on a fresh student notebook names the TODO a check ran into.
TODO_TESTS = [KEYWORD_TESTS[n] for n in ("data_keywords", "data_unknown", "data_silence")]
TODO_TESTS.append(KEYWORD_TESTS["tokens_lengths"])


@dataclass(frozen=True)
class KeywordCase:
    name: str
    damage: Callable[[Path], None]  # edits the copied submission folder
    lost: dict[str, str] = field(default_factory=dict)  # test -> phrase of its reason


def _edit_function(name: str, old: str, new: str) -> Callable[[Path], None]:
    """Damage: replace `old` (once) in the model cell that defines `name` (class or function)."""

    def damage(folder: Path) -> None:
        nb = nbformat.read(folder / NOTEBOOK, as_version=4)
        cells = [
            c
            for c in nb.cells
            if "model" in c.metadata.get("tags", [])
            and (f"class {name}(" in c.source or f"def {name}(" in c.source)
        ]
        assert len(cells) == 1 and cells[0].source.count(old) == 1, (name, old)
        cells[0].source = cells[0].source.replace(old, new)
        nbformat.write(nb, folder / NOTEBOOK)

    return damage


def _retrained(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """`damage`, then a model.pt that fits the damaged model (as if the student had trained it):
    the mistake costs its own task, not a checkpoint that no longer loads."""

    def both(folder: Path) -> None:
        from kws.grading.child.cells import run_model_cells

        damage(folder)
        ns = run_model_cells(folder / NOTEBOOK)
        config = json.loads((folder / "outputs" / "kws" / "config.json").read_text())
        torch.manual_seed(0)
        model = ns[config["class"]](**config["kwargs"])
        torch.save(model.state_dict(), folder / "outputs" / "kws" / "model.pt")

    return both


def keyword_cases() -> list[KeywordCase]:
    return [
        # correct code rewritten: names, comments, statement order (tests/corpus_rewrites.py)
        KeywordCase("rewrite_renamed_and_reordered", keyword_rewrite),
        KeywordCase(  # the lesson of the course: every other word kept as _unknown_
            "unknown_kept_whole",
            _edit_function(
                "twelve_class_labels",
                "count = min(round(unknown_fraction * (len(words) - len(others))), len(others))",
                "count = len(others)",
            ),
            {"data_unknown": "every other-word clip is kept"},
        ),
        KeywordCase(  # a random block of the clip list: random-looking on shuffled clips only
            "unknown_contiguous_block",
            _edit_function(
                "twelve_class_labels",
                "kept = set(random.Random(seed).sample(others, count))",
                "start = random.Random(seed).randrange(len(others) - count + 1)\n"
                "    kept = set(others[start : start + count])",
            ),
            {"data_unknown": "one block of neighbouring clips"},
        ),
        KeywordCase(  # a model cell replacing a check the grading child runs after it
            "patches_the_keyword_checks",
            _both(
                _edit_function(
                    "twelve_class_labels",
                    "count = min(round(unknown_fraction * (len(words) - len(others))), len(others))",
                    "count = len(others)",
                ),
                _edit_function(
                    "twelve_class_labels",
                    "def silence_windows(",
                    "import kws.assignments.keyword_spotting.keyword_checks as _checks\n\n"
                    "_checks.twelve_class_labels = lambda checker, function, seed=0: None\n\n\n"
                    "def silence_windows(",
                ),
            ),
            {
                test: "Your notebook changes torch or the grader's code "
                "(kws.assignments.keyword_spotting.keyword_checks.twelve_class_labels was replaced"
                for test in (
                    "data_keywords",
                    "data_unknown",
                    "data_silence",
                    "tokens_lengths",
                    "tokens_budget",
                    "tokens_memory",
                )
            },
        ),
        KeywordCase(  # one token per time step and mel bin of the stem: 26 x 10 + CLS tokens
            "tokens_per_frame_and_mel_bin",
            _retrained(
                _both(
                    _edit_function(
                        "ConvTokenizer",
                        "self.proj = nn.Linear(channels * freqs, d_model)",
                        "self.proj = nn.Linear(channels, d_model)",
                    ),
                    _edit_function(
                        "ConvTokenizer",
                        "x = x.permute(0, 2, 1, 3).reshape(B, N, C * F)  # (B, N, C * F')\n"
                        "        return self.proj(x), lengths  # (B, N, D), (B,)",
                        "x = x.permute(0, 2, 3, 1).reshape(B, N * F, C)  # (B, N x F', C)\n"
                        "        return self.proj(x), lengths * F  # (B, N x F', D), (B,)",
                    ),
                )
            ),
            {
                "tokens_budget": "261 tokens (CLS included) for one second of audio",
                "tokens_memory": "fewer tokens (memory grows with N²)",
            },
        ),
    ]


def _both(*damages: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for each in damages:
            each(folder)

    return damage


def build_keyword_corpus(
    reference: Path, corpus_dir: Path, only: Collection[str] | None = None
) -> dict[str, KeywordCase]:
    """One folder per case under `corpus_dir`: notebook 01 and outputs/kws, then damaged.
    `only`: the names of the cases to build (default: all)."""
    return build_cases(keyword_cases(), reference, corpus_dir, NOTEBOOK, ["kws"], only)
