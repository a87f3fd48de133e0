"""Checkpoints that carry data instead of weights, flagged for a person to read (a review finding;
points are not changed). Read in the grader's process without torch
(`kws.grading.judge.budget.load_state`), with what the grading child found of the buffers
(`kws.grading.child.buffers`). What each rule catches and cannot: docs/reference/threat-model.md.
"""

from __future__ import annotations

from pathlib import Path

from kws.counts import format_count, is_bookkeeping
from kws.grading.judge.budget import BudgetError, load_state

MIN_ITEMS = 100  # below this a test set's size can match a model's own sizes by chance
CONFIG_BYTES = 16 * 1024  # course configs take under 1 kB; a table in one reaches __init__


def _names(keys: list[str], count: int = 3) -> str:
    more = f" and {len(keys) - count} more" if len(keys) > count else ""
    return ", ".join(keys[:count]) + more


def checkpoint_flags(
    folder: Path, task: str, n_items: int, n_classes: int, buffers: dict | None = None
) -> list[str]:
    """One sentence per way `task`'s checkpoint in `folder` looks like it carries data.

    Args:
        folder: the task's output folder (``OUT_DIR/<task>``, holding model.pt, config.json).
        task: the task's name, for the sentences ("task1").
        n_items: the hidden test set's number of items (every item, not only a sample).
        n_classes: the task's number of classes (a classifier's rows are not a table).
        buffers: what the grading child found (`kws.grading.child.buffers`:
            ``{"written": [...], "constructed": [...]}``), None when it could not compare.

    Returns:
        The findings, [] for an honest checkpoint (and for one that cannot be read: the
        tests that load it say why).
    """
    config, flags = folder / "config.json", []
    if config.is_file() and config.stat().st_size > CONFIG_BYTES:
        flags.append(
            f"{task}/config.json takes {config.stat().st_size // 1024} kB (a model's settings take "
            "under 1 kB); what it holds reaches the model's constructor, a table included"
        )
    try:
        state = load_state(folder / "model.pt", task)
    except BudgetError:
        return flags
    # Integer and bool tensors beyond a normalization's bookkeeping, unless the model's
    # constructor builds them so (an index or a mask).
    constructed = set((buffers or {}).get("constructed") or [])
    keys = [
        k
        for k, v in state.items()
        if not v.is_floating_point()
        and not is_bookkeeping(k, v)
        and k.removeprefix("_orig_mod.").removeprefix("module.") not in constructed
    ]
    if keys:
        values = format_count(sum(state[k].numel for k in keys))
        flags.append(
            f"{task}/model.pt holds integer or bool tensors that are not a normalization's "
            f"bookkeeping and that the model's constructor does not build ({_names(keys)}: "
            f"{values} values); a model's weights are floats, an integer tensor can carry a table "
            "of answers or weights as bit patterns"
        )
    # Tensors whose leading size is the test set's number of items (one row per item).
    keys = [k for k, v in state.items() if v.dim() and v.shape[0] == n_items]
    if keys and n_items >= MIN_ITEMS and n_items != n_classes:
        flags.append(
            f"{task}/model.pt holds tensors with one row per test item ({_names(keys)}: leading "
            f"size {n_items}, the hidden test set's size); a table of the test set would look so"
        )
    # Buffers and frozen parameters that differ from what the constructor builds.
    keys = (buffers or {}).get("written") or []
    if keys:
        flags.append(
            f"{task}/model.pt holds buffers or frozen parameters that differ from what the model's "
            f"constructor builds ({_names(keys)}); training never updates them, so other code "
            "wrote them after the model was built (e.g. a table of the test set)"
        )
    return flags
