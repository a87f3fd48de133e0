"""fit / evaluate / predict / checkpoints on tiny models and hand-made batches (CPU, fp32, seconds)."""

import csv
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kws.training import (
    History,
    evaluate,
    fit,
    load_training_state,
    predict,
    seed_everything,
    write_predictions_csv,
)

N_CLASSES, N_FEATURES, MAX_FRAMES = 3, 4, 7


class TinyClassifier(nn.Module):
    """Masked mean over time of a per-frame MLP: takes (x (B, T, F), lengths (B,)) -> logits (B, C)."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.frame = nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(16, N_CLASSES)

    def forward(self, x, lengths):
        h = self.frame(x)  # (B, T, 16)
        valid = torch.arange(x.size(1)) < lengths.unsqueeze(1)  # (B, T)
        pooled = (h * valid.unsqueeze(-1)).sum(1) / lengths.unsqueeze(1)  # (B, 16)
        return self.head(pooled)


def make_batches(n_batches: int, batch_size: int = 8, seed: int = 0):
    """Gaussian blobs, one mean per class, with random lengths: an easy, learnable task."""
    g = torch.Generator().manual_seed(seed)
    means = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])  # (C, F)
    batches = []
    for _ in range(n_batches):
        labels = torch.randint(0, N_CLASSES, (batch_size,), generator=g)
        lengths = torch.randint(2, MAX_FRAMES + 1, (batch_size,), generator=g)
        x = means[labels].unsqueeze(1) + torch.randn(
            batch_size, MAX_FRAMES, N_FEATURES, generator=g
        )
        batches.append((x, lengths, labels))  # x (B, T, F)
    return batches


def fresh_model(dropout: float = 0.0) -> TinyClassifier:
    seed_everything(0)
    return TinyClassifier(dropout)


def test_fit_learns_and_records_every_step(tmp_path):
    train, valid = make_batches(8), make_batches(4, seed=1)
    model = fresh_model()
    history = fit(
        model,
        train,
        valid,
        steps=60,
        lr=1e-2,
        eval_every=20,
        log_every=7,
        out_dir=tmp_path,
        config={"name": "tiny"},
        progress=False,
    )
    assert history.steps == 60
    assert len(history.lr) == len(history.train_accuracy) == len(history.grad_norm) == 60
    assert sum(history.loss[-10:]) < 0.5 * sum(history.loss[:10])
    assert history.eval_step == [20, 40, 60]
    assert history.valid_accuracy[-1] > 0.9
    # The warm-up cosine schedule: 0 at the first step (3 warm-up steps = 5 % of 60), peak after.
    assert history.lr[0] == 0.0 and max(history.lr) == pytest.approx(1e-2)
    assert history.lr[-1] < 1e-4
    assert json.loads((tmp_path / "config.json").read_text()) == {"name": "tiny"}
    assert History.load(tmp_path / "history.json") == history
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())


def test_history_json_round_trip_and_bad_file(tmp_path):
    history = History(loss=[1.5, 0.5], lr=[0.0, 1e-3], eval_step=[2], valid_accuracy=[0.75])
    history.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json") == history
    (tmp_path / "other.json").write_text(json.dumps({"loss": [], "accuracy": 1}))
    with pytest.raises(ValueError, match="accuracy"):
        History.load(tmp_path / "other.json")


class StepDependentModel(nn.Module):
    """Predicts class 0 only while its training-step counter is in (5, 10]: valid accuracy peaks at 10."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(N_FEATURES, N_CLASSES)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x, lengths):
        if self.training:
            self.calls += 1
        bonus = torch.zeros(N_CLASSES)
        bonus[0 if 5 < int(self.calls) <= 10 else 1] = 100.0
        return self.linear(x.mean(1)) + bonus  # (B, C)


def test_best_checkpoint_is_the_one_with_best_valid_accuracy(tmp_path, capsys):
    train = make_batches(4)
    valid = [(x, lengths, torch.zeros_like(labels)) for x, lengths, labels in make_batches(2)]
    model = StepDependentModel()
    history = fit(model, train, valid, steps=20, eval_every=5, out_dir=tmp_path, progress=False)
    assert history.valid_accuracy == [0.0, 1.0, 0.0, 0.0]
    assert (history.best_step, history.best_valid_accuracy) == (10, 1.0)
    assert int(torch.load(tmp_path / "model.pt", weights_only=True)["calls"]) == 10
    assert int(model.calls) == 20  # the model itself keeps the last weights
    assert load_training_state(tmp_path)["step"] == 20
    assert capsys.readouterr() == ("", "")  # progress=False: silent


def test_keep_last_saves_the_weights_of_the_last_step_and_still_records_the_best(tmp_path):
    train = make_batches(4)
    valid = [(x, lengths, torch.zeros_like(labels)) for x, lengths, labels in make_batches(2)]
    model = StepDependentModel()
    history = fit(
        model, train, valid, steps=20, eval_every=5, out_dir=tmp_path, progress=False, keep="last"
    )
    assert (history.best_step, history.best_valid_accuracy) == (10, 1.0)
    assert int(torch.load(tmp_path / "model.pt", weights_only=True)["calls"]) == 20
    with pytest.raises(ValueError, match='"best", "last" or "average"'):
        fit(StepDependentModel(), train, valid, steps=2, progress=False, keep="final")


class CrashAfter:
    """Yields the batches of ``batches`` (again and again) and raises after ``n`` of them."""

    def __init__(self, batches, n):
        self.batches, self.n, self.drawn = batches, n, 0

    def __iter__(self):
        for batch in self.batches:
            if self.drawn == self.n:
                raise RuntimeError("simulated crash")
            self.drawn += 1
            yield batch


@pytest.mark.parametrize("keep", ["best", "average"])
def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path, keep):
    train, valid = make_batches(3), make_batches(2, seed=1)
    settings = dict(steps=20, lr=1e-2, eval_every=5, log_every=3, progress=False, seed=3, keep=keep)
    settings |= {"average_decay": 0.8} if keep == "average" else {}
    whole = fresh_model(dropout=0.3)  # dropout: the restored random-number state matters
    history_whole = fit(whole, train, valid, out_dir=tmp_path / "whole", **settings)

    crashed = fresh_model(dropout=0.3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(crashed, CrashAfter(train, 13), valid, out_dir=tmp_path / "crashed", **settings)
    assert load_training_state(tmp_path / "crashed")["step"] == 10

    resumed = TinyClassifier(dropout=0.3)  # any weights: resume loads them
    history_resumed = fit(
        resumed, train, valid, out_dir=tmp_path / "crashed", resume=tmp_path / "crashed", **settings
    )
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)
    history_whole.train_seconds = history_resumed.train_seconds = 0.0
    assert history_resumed == history_whole
    best = torch.load(tmp_path / "crashed" / "model.pt", weights_only=True)
    best_whole = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    for name, value in best_whole.items():
        torch.testing.assert_close(best[name], value, rtol=0, atol=0)


def test_keep_average_keeps_the_moving_average_of_the_weights(tmp_path):
    """With a constant learning rate, the weights after one step (w1) and after two (w2) are
    those of plain runs that long; decay 0.25 averages them as 0.25 w1 + 0.75 w2."""
    train, valid = make_batches(2), make_batches(1, seed=1)
    settings = dict(lr=1e-1, lr_factor=lambda step, total: 1.0, progress=False, seed=1)
    after = []
    for steps in (1, 2):
        model = fresh_model()
        fit(model, train, steps=steps, keep="last", **settings)
        after.append(model.state_dict())
    averaged = fresh_model()
    history = fit(
        averaged, train, valid, steps=2, keep="average", average_decay=0.25, out_dir=tmp_path,
        **settings,
    )  # fmt: skip
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    last = load_training_state(tmp_path)["model"]
    for name, w1 in after[0].items():
        expected = 0.25 * w1 + 0.75 * after[1][name]
        torch.testing.assert_close(averaged.state_dict()[name], expected)  # what fit returns
        torch.testing.assert_close(saved[name], expected)  # what model.pt holds
        torch.testing.assert_close(last[name], after[1][name])  # last.pt: the last step's own
    assert history.valid_accuracy[-1] == evaluate(averaged, valid)["accuracy"]  # it validated


def test_resume_with_keep_average_refuses_a_run_that_kept_no_average(tmp_path):
    train = make_batches(2)
    fit(fresh_model(), train, steps=4, out_dir=tmp_path, progress=False, keep="last")
    with pytest.raises(ValueError, match="no average of the weights"):
        fit(fresh_model(), train, steps=4, resume=tmp_path, progress=False, keep="average")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        fit(fresh_model(), train, steps=4, progress=False, keep="average", average_decay=1.0)


def test_resume_refuses_a_run_of_another_length(tmp_path):
    train = make_batches(2)
    fit(fresh_model(), train, steps=4, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="4 steps"):
        fit(fresh_model(), train, steps=6, resume=tmp_path, progress=False)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_label_smoothing_changes_the_training_loss(smoothing):
    train = make_batches(1)
    model = fresh_model()
    x, lengths, labels = train[0]
    with torch.no_grad():
        expected = F.cross_entropy(model(x, lengths), labels, label_smoothing=smoothing)
    history = fit(model, train, steps=1, label_smoothing=smoothing, progress=False)
    assert history.loss[0] == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("grad_clip", [None, 1e-3])
def test_gradient_clipping_bounds_the_update(grad_clip):
    model = fresh_model()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)  # update = -clipped gradient
    history = fit(
        model,
        make_batches(1),
        steps=1,
        warmup_steps=0,
        optimizer=sgd,
        grad_clip=grad_clip,
        progress=False,
    )
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    step_norm = (after - before).norm().item()
    assert history.grad_norm[0] > 1e-2  # recorded before clipping
    expected = history.grad_norm[0] if grad_clip is None else grad_clip
    assert step_norm == pytest.approx(expected, rel=1e-4)


def test_epochs_and_a_custom_loss_with_parameters():
    class ScaledCrossEntropy(nn.Module):
        def __init__(self):
            super().__init__()
            self.log_scale = nn.Parameter(torch.zeros(()))

        def forward(self, logits, labels):
            return F.cross_entropy(logits * self.log_scale.exp(), labels)

    loss_fn = ScaledCrossEntropy()
    history = fit(
        fresh_model(),
        make_batches(4),
        make_batches(1),
        epochs=2,
        loss_fn=loss_fn,
        lr=1e-2,
        progress=False,
    )
    assert history.steps == 8 and history.eval_step == [4, 8]
    assert loss_fn.log_scale.item() != 0.0  # the loss's own parameter was trained


def test_fit_rejects_contradictory_settings():
    train = make_batches(1)
    with pytest.raises(ValueError, match="exactly one of steps= and epochs="):
        fit(fresh_model(), train, steps=2, epochs=1, progress=False)
    with pytest.raises(ValueError, match="label_smoothing"):
        fit(fresh_model(), train, steps=2, loss_fn=F.cross_entropy, label_smoothing=0.1)
    with pytest.raises(ValueError, match="has none: pass steps="):
        fit(fresh_model(), iter(train), epochs=1, progress=False)
    with pytest.raises(ValueError, match="not a one-shot generator"):
        fit(fresh_model(), iter(train), steps=3, progress=False)


class ArgmaxOfInput(nn.Module):
    """Logits are the input itself (B, C): predictions are known in advance. No lengths needed."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(1, 1)

    def forward(self, x):
        return x


def test_evaluate_and_predict_keep_the_order_of_the_batches():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(10, N_CLASSES, generator=g)  # (N, C)
    labels = scores.argmax(-1)
    labels[[1, 6]] = (labels[[1, 6]] + 1) % N_CLASSES  # two wrong on purpose
    batches = [(scores[i : i + 4], None, labels[i : i + 4]) for i in range(0, 10, 4)]
    model = ArgmaxOfInput().train()

    result = evaluate(model, batches, return_predictions=True)
    assert result["n"] == 10 and result["accuracy"] == pytest.approx(0.8)
    assert result["loss"] == pytest.approx(F.cross_entropy(scores, labels).item(), rel=1e-6)
    assert torch.equal(result["predictions"], scores.argmax(-1))
    assert torch.equal(result["labels"], labels)
    assert model.training  # mode restored

    unlabelled = [(x, lengths) for x, lengths, _ in batches]
    assert torch.equal(predict(model, unlabelled), scores.argmax(-1))
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [])


def test_write_predictions_csv(tmp_path):
    path = write_predictions_csv(
        tmp_path / "sub" / "predictions.csv",
        ["uttr-b.pt", "uttr-a.pt"],
        torch.tensor([1, 0]),
        ["id10001", "id10002"],
    )
    assert path.read_text() == "Id,Category\nuttr-b.pt,id10002\nuttr-a.pt,id10001\n"
    with path.open() as f:
        assert list(csv.DictReader(f))[0] == {"Id": "uttr-b.pt", "Category": "id10002"}
    with pytest.raises(ValueError, match="2 ids but 1 predictions"):
        write_predictions_csv(path, ["a", "b"], [0], ["x"])
    with pytest.raises(ValueError, match="prediction 3 has no class name"):
        write_predictions_csv(path, ["a"], [3], ["x"])


class FirstValueAsClass(nn.Module):
    """Predicts class round(x[b, 0, 0]): tells which utterance a row came from."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = n_classes
        self.unused = nn.Linear(1, 1)

    def forward(self, x, lengths):
        return F.one_hot(x[:, 0, 0].round().long(), self.n_classes).float()  # (B, C)


def test_predict_puts_length_sorted_shuffled_batches_back_in_dataset_order():
    from kws.data.batches import FeatureBatches
    from kws.data.cache import FeatureCache

    lengths = torch.tensor([5, 2, 7, 3, 4])
    frames = torch.cat([torch.full((int(n), 3), float(i)) for i, n in enumerate(lengths)])
    cache = FeatureCache(
        frames=frames,
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        labels=torch.tensor([0, 1, 2, 3, 0]),
        feature_paths=tuple(f"uttr-{i}.pt" for i in range(5)),
        speaker_names=("a", "b", "c", "d", "e"),
    )
    batches = FeatureBatches(cache, batch_size=2, crop=None, shuffle=True, seed=1)
    model = FirstValueAsClass(5)
    assert torch.equal(predict(model, batches), torch.arange(5))
    result = evaluate(model, batches, return_predictions=True)
    assert torch.equal(result["labels"], cache.labels) and result["accuracy"] == pytest.approx(0.8)
    dropping = FeatureBatches(cache, batch_size=2, crop=None, drop_last=True)
    with pytest.raises(ValueError, match="drop_last=False"):
        predict(model, dropping)


def test_own_learning_rate_factor_sets_every_step_and_excludes_warmup_steps():
    def halves_each_step(step: int, total: int) -> float:
        return 0.5**step if total == 4 else float("nan")

    history = fit(
        fresh_model(), make_batches(2), steps=4, lr=0.1, lr_factor=halves_each_step, progress=False
    )
    assert history.lr == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="warm-up is part of your lr_factor"):
        fit(fresh_model(), make_batches(2), steps=4, warmup_steps=1, lr_factor=halves_each_step)
