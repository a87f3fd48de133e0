"""Notebook 01's Task 3 and 4 self-checks (kws.assignments.keyword_spotting.keyword_model_checks): the reference passes,
and each typical mistake fails its own check with a message naming it."""

import math

import pytest
import torch
from course_helpers import ROOT

from kws import check
from kws.assignments.keyword_spotting.keyword_model_checks import recorded_schedule
from kws.check.selfcheck import Checker
from kws.notebooks import cells_with_tag, read_notebook

FORWARD_LINES = {
    "cls": "torch.cat([cls, tokens], dim=1)",
    "mask": "lengths_to_mask(token_lengths + 1, N + 1)",
    "classify": "self.classifier(self.norm(h[:, 0]))",
}


def model_namespace(*edits: tuple[str, str]) -> dict:
    """The solution notebook's model cell, run with each (old, new) replaced once."""
    cells = cells_with_tag(read_notebook(ROOT / "solutions" / "01_keyword_spotting.ipynb"), "model")
    source = next(c.source for c in cells if "class KeywordTransformer(" in c.source)
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    ns = {"__name__": "notebook"}
    exec(compile(source, "model-cell", "exec"), ns)
    return ns


def failed(result) -> list[str]:
    return [str(item) for item in result.failures]


def keyword_transformer(*edits):
    return check.keyword_transformer(model_namespace(*edits)["KeywordTransformer"])


def test_the_reference_passes_and_the_notebook_tokenizer_is_swapped_back():
    ns = model_namespace()
    result = check.keyword_transformer(ns["KeywordTransformer"])
    assert result and len(result.items) == 7
    assert ns["ConvTokenizer"].__module__ == "notebook"  # restored after the build


def test_lengths_ignored_fails_only_the_padding_checks():
    result = keyword_transformer(("if lengths is None:", "if True:"))
    assert {item.topic for item in result.failures} == {"padding"}
    assert "forward ignores `lengths`" in failed(result)[0]


def test_cls_token_last_fails_only_the_pipeline():
    result = keyword_transformer(
        (FORWARD_LINES["cls"], "torch.cat([tokens, cls], dim=1)"),
        (
            FORWARD_LINES["mask"],
            "lengths_to_mask(token_lengths, N + 1) & (torch.arange(N + 1) < N)",
        ),
        (FORWARD_LINES["classify"], "self.classifier(self.norm(h[:, -1]))"),
    )
    assert [item.topic for item in result.failures] == ["outputs"]
    assert "the CLS token goes last" in failed(result)[0]


def test_final_norm_skipped_and_positions_forgotten_are_named():
    result = keyword_transformer((FORWARD_LINES["classify"], "self.classifier(h[:, 0])"))
    assert {item.topic for item in result.failures} == {"outputs"}
    assert "the final LayerNorm is skipped" in failed(result)[0]
    result = keyword_transformer(("+ self.position[:, : N + 1]", ""))
    assert "no position embedding is added" in failed(result)[0]
    assert "['position'] are never used" in failed(result)[1]


def test_mask_one_token_short_and_samples_not_zeroed_are_named():
    # one token short hides a clip's last token even without padding: the pipeline is wrong
    result = keyword_transformer((FORWARD_LINES["mask"], "lengths_to_mask(token_lengths, N + 1)"))
    assert [item.topic for item in result.failures] == ["outputs"]
    assert "the padding mask is one token short" in failed(result)[0]
    result = keyword_transformer(
        ("waves = waves.masked_fill(lengths_to_mask(lengths, S), 0.0)", "")
    )
    assert {item.topic for item in result.failures} == {"padding"}
    assert "zero them before the front-end" in failed(result)[0]


def test_augmentation_in_eval_mode_fails_the_eval_check():
    result = keyword_transformer(
        ("features = self.specaugment(", "features = self.specaugment.train()(")
    )
    (eval_item,) = [item for item in result.failures if item.topic == "eval"]
    assert "draws random numbers in eval mode: specaugment.freq_masking (FrequencyMasking)" in (
        eval_item.fix
    )
    assert "only when `self.training` is True" in eval_item.fix
    # the comparisons the noise spoils name it, not a missing use of `lengths`
    assert all(item.fix == eval_item.fix for item in result.failures)


def test_a_todo_in_forward_stops_with_its_message(capsys):
    todo = 'raise NotImplementedError("TODO: write forward")\n        B, S = waves.shape'
    with pytest.raises(NotImplementedError, match="TODO: write forward"):
        keyword_transformer(("B, S = waves.shape", todo))
    assert "not written yet: TODO: write forward" in capsys.readouterr().out


def warmup_cosine(step: int, total: int) -> float:
    warmup = total // 10
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


RECIPE = {"lr": 1e-3, "weight_decay": 0.01, "label_smoothing": 0.1}


def test_recipe_and_schedule_pass_for_a_warm_up_cosine():
    assert check.training_recipe(RECIPE, warmup_cosine)


@pytest.mark.parametrize(
    ("factor", "message"),
    [
        (lambda step, total: 1.0, "a constant rate has no warm-up"),
        (lambda step, total: min(1.0, (step + 1) / 100), "decay to (near) 0"),
        (lambda step, total: 1 - step / total, "rise linearly from 0"),
        (lambda step, total: 1e-3 * warmup_cosine(step, total) * 1e6, "between 0 and 1"),
    ],
)
def test_schedules_without_warm_up_or_decay_are_named(factor, message):
    result = check.training_recipe(RECIPE, factor)
    assert any(message in line for line in failed(result)), failed(result)


def test_recipe_settings_out_of_range_are_named():
    result = check.training_recipe(RECIPE | {"lr": 3.0, "label_smoothing": 0.9})
    assert len(result.failures) == 2
    assert "between 1e-5 and 1e-1" in failed(result)[0]
    assert not check.training_recipe({"lr": 1e-3})


def recorded_by_lambda_lr(factor, total: int, peak: float = 1e-3) -> list[float]:
    """The learning rates fit() records with lr_factor=factor: LambdaLR's rate before each step."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step, total))
    rates = []
    for _ in range(total):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def recorded_failures(factor, recorded) -> list[tuple[str, str, str]]:
    checker = Checker("learning_rate_factor", echo=False)
    with checker.run():
        recorded_schedule(checker, factor, recorded)
    return [(item.topic, item.what, item.fix) for item in checker.items if not item.passed]


def test_the_grader_judges_the_notebooks_function_over_the_recorded_steps():
    recorded = recorded_by_lambda_lr(warmup_cosine, 200)
    assert recorded_failures(warmup_cosine, recorded) == []
    constant = recorded_by_lambda_lr(lambda step, total: 1.0, 200)
    failures = recorded_failures(lambda step, total: 1.0, constant)
    assert [topic for topic, _, _ in failures] == ["warm-up", "decay"]
    assert "a constant rate has no warm-up" in failures[0][2]


def test_a_history_rewritten_after_a_constant_run_is_caught():
    """Trained at a constant rate, then history.json rewritten with a warm-up cosine: the
    function the notebook defines is judged, and the rewritten rates do not follow it."""
    rewritten = recorded_by_lambda_lr(warmup_cosine, 200)
    failures = recorded_failures(lambda step, total: 1.0, rewritten)
    assert failures[0][0] == "recorded"
    assert "step 0: 5e-05 recorded, 0.001 from your function" in failures[0][1]
    assert "or history.json was edited after it" in failures[0][2]
    assert {topic for topic, _, _ in failures} == {"recorded", "warm-up", "decay"}


def test_a_function_changed_after_training_disagrees_with_the_history():
    constant_run = recorded_by_lambda_lr(lambda step, total: 1.0, 200)
    failures = recorded_failures(warmup_cosine, constant_run)
    assert [topic for topic, _, _ in failures] == ["recorded"]
    assert "run the training cell again" in failures[0][2]


def test_a_missing_history_stops_with_its_reason():
    failures = recorded_failures(warmup_cosine, "kws/history.json is missing")
    assert failures == [
        ("build", "the run's learning rates (history.json)", "kws/history.json is missing")
    ]


def int_warmup(step: int, total: int) -> float:
    """A warm-up of 5 % written with int(): no warm-up at all below 20 steps."""
    warmup = int(0.05 * total)
    if step < warmup:
        return step / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def test_the_self_check_judges_the_notebooks_budget_as_the_grader_does():
    assert check.training_recipe(RECIPE, int_warmup, steps=1000)
    result = check.training_recipe(RECIPE, int_warmup, steps=12)
    lines = failed(result)
    assert len(lines) == 1 and "learning_rate_factor over" not in lines[0]
    assert lines[0].startswith("✗ the schedule over 12 steps: warms up (starts at 1.00 of the peak")
    assert "warms up for at least one step" in lines[0]
    graded = recorded_failures(int_warmup, recorded_by_lambda_lr(int_warmup, 12))
    assert [(topic, fix) for topic, _, fix in graded] == [("warm-up", lines[0].split(" — ")[1])]


def test_the_schedule_rule_is_stated_in_the_notebook():
    for folder in ("solutions", "assignments"):
        nb = read_notebook(ROOT / folder / "01_keyword_spotting.ipynb")
        (cell,) = cells_with_tag(nb, "recipe")
        task = nb.cells[nb.cells.index(cell) - 1].source
        for rule in ("at most **half** the peak", "**before the middle**", "a **quarter** of"):
            assert rule in task, (folder, rule)
