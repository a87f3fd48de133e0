"""The patch Transformer of benchmarks/patch_models.py (notebook 03's reference) and the script
that measures it on real speech, benchmarks/bench_patch_variants.py. Benchmark tests: the
default run leaves them out; `pytest -m benchmark` runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.benchmark
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def patch_models(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import patch_models

    return patch_models


@pytest.mark.parametrize(
    ("patch_size", "stride", "grid"),
    [((40, 3), (40, 2), (1, 50)), ((10, 10), (5, 5), (7, 19)), ((16, 16), (12, 10), (3, 9))],
)
def test_the_patch_embedding_is_unfold_and_a_linear_on_the_grid_the_formula_gives(
    patch_models, patch_size, stride, grid
):
    """Each patch's D values are the Linear (the Conv2d's weight viewed as (D, pf * pt)) of its
    pf x pt log-mels, laid out on a grid of (F - pf) // sf + 1 rows and (T - pt) // st + 1
    columns; float64, distinct sizes so a swapped axis fails."""
    torch.manual_seed(0)
    embed = patch_models.PatchEmbedding(12, patch_size, stride).double()
    features = torch.randn(2, 101, 40, dtype=torch.float64)  # (B, T, F)
    out = embed(features)
    assert embed.grid(40, 101) == grid
    assert out.shape == (2, *grid, 12)
    assert patch_models.grid_size(101, patch_size[1], stride[1]) == grid[1]
    patches = torch.nn.functional.unfold(
        features.transpose(1, 2)[:, None], patch_size, stride=stride
    )
    weight, bias = embed.proj.weight.reshape(12, -1), embed.proj.bias  # (D, pf * pt), (D,)
    reference = patches.transpose(1, 2) @ weight.T + bias  # (B, F' * T', D), row-major grid
    torch.testing.assert_close(out.reshape(2, -1, 12), reference)


def test_frequency_and_time_positions_add_one_vector_per_row_and_column(patch_models):
    """PaSST's positions: every patch of row f and column t gets freq[f] + time[t]; a shorter
    clip's grid takes the first columns; a grid of other rows is refused with the fix."""
    torch.manual_seed(0)
    positions = patch_models.FreqTimePositions(6, rows=3, max_cols=5)
    grid = torch.zeros(2, 3, 4, 6)
    out = positions(grid)
    for f in range(3):
        for t in range(4):
            expected = positions.freq[0, f, 0] + positions.time[0, 0, t]
            torch.testing.assert_close(out[1, f, t], expected)
    assert positions(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 5, 6)
    with pytest.raises(ValueError, match="build the model with the clip length"):
        positions(torch.zeros(1, 4, 5, 6))


def test_structured_patchout_drops_whole_rows_and_columns_repeatably(patch_models):
    """k_t columns and k_f rows go, the same for every clip of the batch, the kept ones in
    order; the same seed drops the same ones; at least one row and column always stays."""
    grid = torch.arange(7 * 19).reshape(1, 7, 19, 1).expand(2, -1, -1, 3).float()
    valid = torch.ones(2, 19, dtype=torch.bool)
    valid[1, 15:] = False
    kept, kept_valid = patch_models.structured_patchout(
        grid, valid, 6, 2, torch.Generator().manual_seed(0)
    )
    assert kept.shape == (2, 5, 13, 3) and kept_valid.shape == (2, 13)
    rows = (kept[0, :, 0, 0] // 19).long()  # which rows and columns survived
    cols = (kept[0, 0, :, 0] % 19).long()
    assert rows.tolist() == sorted(rows.tolist()) and cols.tolist() == sorted(cols.tolist())
    expected = torch.tensor([[19 * r + c for c in cols] for r in rows]).float()
    torch.testing.assert_close(kept[1, :, :, 0], expected)  # whole rows and columns
    assert kept_valid[1].tolist() == [c < 15 for c in cols.tolist()]
    again, _ = patch_models.structured_patchout(grid, valid, 6, 2, torch.Generator().manual_seed(0))
    assert torch.equal(again, kept)
    one, _ = patch_models.structured_patchout(grid, valid, 50, 50)
    assert one.shape == (2, 1, 1, 3)


def test_patchout_runs_in_training_only_and_padding_changes_no_logits(patch_models):
    """In training, patchout feeds the encoder fewer tokens; in eval mode every patch is kept
    and a clip padded in a batch gets the logits it gets alone."""
    torch.manual_seed(0)
    model = patch_models.PatchKWT(
        patch_size=(10, 10), stride=(5, 5), d_model=16, nhead=2, dim_feedforward=32,
        num_layers=1, patchout=(6, 2),
    )  # fmt: skip
    counts = []
    model.encoder.register_forward_pre_hook(lambda _, args: counts.append(args[0].size(1)))
    waves, lengths = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 9000])
    model.train()(waves, lengths)
    model.eval()
    with torch.no_grad():
        batch, alone = model(waves, lengths), model(waves[1:, :9000])
    assert counts[0] == 1 + 5 * 13 and counts[1] == 1 + 7 * 19
    torch.testing.assert_close(batch[1], alone[0], atol=1e-5, rtol=0)


def test_the_distillation_token_learns_the_teachers_hard_labels_and_the_heads_average(
    patch_models,
):
    """DeiT's hard distillation: ½ CE(CLS head, labels) + ½ CE(distillation head, the frozen
    teacher's argmax), label smoothing on both; in eval mode the heads' logits are averaged; the
    teacher's weights and statistics stay as they were while the student trains."""
    from kws.models import build_model
    from kws.training import fit

    torch.manual_seed(0)
    student = patch_models.PatchKWT(
        n_classes=3, d_model=16, nhead=2, dim_feedforward=32, num_layers=1, distillation=True
    )
    teacher = build_model("crnn_attention", n_classes=3)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    pair = patch_models.HardDistillation(student, teacher)
    waves, labels = torch.randn(6, 16000) * 0.1, torch.tensor([0, 1, 2, 0, 1, 2])
    fit(pair, [(waves, None, labels)], steps=2, lr=1e-3, loss_fn=pair.loss(0.1),
        device="cpu", progress=False, keep="last")  # fmt: skip
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, before[name]), name
    pair.train()
    cls_logits = pair(waves)
    with torch.no_grad():
        taught = teacher(waves).argmax(-1)
    assert torch.equal(pair.teacher_labels, taught)
    expected = 0.5 * torch.nn.functional.cross_entropy(cls_logits, labels, label_smoothing=0.1)
    expected += 0.5 * torch.nn.functional.cross_entropy(
        pair.dist_logits, taught, label_smoothing=0.1
    )
    torch.testing.assert_close(pair.loss(0.1)(cls_logits, labels), expected)
    pair.eval()
    with torch.no_grad():
        cls_eval, dist_eval = student.heads(waves)
        torch.testing.assert_close(pair(waves), (cls_eval + dist_eval) / 2)
    with pytest.raises(ValueError, match="distillation=True"):
        patch_models.HardDistillation(patch_models.PatchKWT(n_classes=3), teacher)


@pytest.mark.filterwarnings("ignore:.*has no folder for")
def test_the_patch_variants_train_on_a_speaker_fold_and_merge_their_results(tiny_data, tmp_path):
    """benchmarks/bench_patch_variants.py end to end on tiny data: a plain, a patchout and a
    distilled variant train a few steps on one fold and are scored on its speakers, with a
    learning curve, their CPU time and (distilled) the teacher's and each head's accuracy; the
    teacher is trained once, kept in the fold's folder and scored alone as its own row;
    --speed times patchout and keeps the runs already saved."""
    script = BENCHMARKS / "bench_patch_variants.py"
    out = tmp_path / "patch.json"
    common = [sys.executable, str(script), "--data", str(tiny_data), "--work", str(tmp_path / "w"),
              "--folds", "3", "--fold-list", "0", "--steps", "4", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    variants = ["strips-1500", "squares-1500-patchout", "strips-patchout-distilled", "teacher"]
    done = subprocess.run(
        [*common, *(arg for v in variants for arg in ("--variant", v))],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert set(rows) == {f"patch: {v}" for v in variants}
    n_test = len(
        list((tmp_path / "w").glob("folds3-seed0/fold0/speech_commands_test_set_v0.02/*/*.wav"))
    )
    for variant in variants[:3]:
        (fold,) = rows[f"patch: {variant}"]["folds"]
        assert fold["n"] == n_test and 0 <= fold["test_accuracy"] <= 1
        assert [p["step"] for p in fold["curve"]] == [1, 2, 3, 4]
        assert fold["steps"] == 4 and fold["train_cpu_seconds"] > 0
    assert rows["patch: strips-1500"]["folds"][0]["parameters"] < 607_000
    distilled = rows["patch: strips-patchout-distilled"]["folds"][0]
    assert all(0 <= distilled[k] <= 1 for k in ("test_accuracy_teacher", "test_accuracy_cls_head",
                                                "test_accuracy_dist_head"))  # fmt: skip
    assert rows["patch: strips-1500"]["folds"][0]["test_accuracy_teacher"] is None
    # the teacher was trained once, by the distilled run, and the teacher row scored it again
    assert list((tmp_path / "w" / "folds3-seed0" / "fold0").glob("teacher-crnn_attention-*.pt"))
    (teacher,) = rows["patch: teacher"]["folds"]
    assert teacher["test_accuracy"] == distilled["test_accuracy_teacher"]
    assert teacher["train_cpu_seconds"] == 0.0 and teacher["parameters"] == 1_507_149

    timed = subprocess.run(
        [*common, "--speed", "squares-1500-patchout"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert timed.returncode == 0, timed.stderr[-3000:]
    speed = json.loads(out.read_text())["patchout speed: squares-1500-patchout"]
    assert speed["grid"] == [7, 19] and speed["patchout"] == [6, 2]
    assert speed["cpu_seconds_per_step_with"] > 0 and speed["cpu_seconds_per_step_without"] > 0
    assert "patch: strips-1500" in json.loads(out.read_text())  # the runs are kept
