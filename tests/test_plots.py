"""kws.plots: every figure renders headless and saves a real PNG; the numbers drawn are right."""

import matplotlib.image
import numpy as np
import pytest
import torch
from torch import nn

from kws.models.attention import MultiHeadSelfAttention
from kws.plots import (
    attention_layers,
    attention_weights,
    confusion_matrix,
    plot_attention,
    plot_confusion_matrix,
    plot_curves,
    plot_learning_rate,
)
from kws.training import History


def assert_png(path, min_height=100, min_width=100):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)  # (H, W, 4)
    assert image.shape[0] >= min_height and image.shape[1] >= min_width
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def make_history(steps: int = 120) -> History:
    t = np.arange(1, steps + 1)
    rng = np.random.default_rng(0)
    return History(
        loss=(2.0 * np.exp(-t / 30) + 0.1 * rng.random(steps)).tolist(),
        lr=np.minimum(t / 10, 1.0).tolist(),
        train_accuracy=(1 - np.exp(-t / 30)).tolist(),
        grad_norm=[1.0] * steps,
        batch_size=[8] * steps,
        eval_step=[40, 80, 120],
        valid_loss=[1.0, 0.5, 0.4],
        valid_accuracy=[0.6, 0.85, 0.83],
        best_step=80,
        best_valid_accuracy=0.85,
    )


def test_curves_and_learning_rate_write_pngs(tmp_path):
    history = make_history()
    figure = plot_curves(history, tmp_path / "curves.png", title="tiny run")
    assert len(figure.axes) == 2
    train_line = figure.axes[0].lines[0]
    assert np.allclose(train_line.get_ydata(), history.loss)
    assert list(figure.axes[1].lines[2].get_xdata()) == [40, 80, 120]  # validation markers
    assert_png(tmp_path / "curves.png")
    plot_learning_rate(history, tmp_path / "lr.png")
    assert_png(tmp_path / "lr.png")
    with pytest.raises(ValueError, match="no training steps"):
        plot_curves(History())


def test_confusion_matrix_counts_rows_true_columns_predicted(tmp_path):
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 2, 2, 0])
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(labels, predictions, 3), expected)
    names = ["_silence_", "_unknown_", "yes"]
    figure = plot_confusion_matrix(
        labels, predictions, names, normalize=True, path=tmp_path / "c.png"
    )
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), expected / expected.sum(1, keepdims=True))
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert "66.67%" in ax.get_title()
    assert_png(tmp_path / "c.png")
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(labels, predictions, 2)


class TwoLayerAttention(nn.Module):
    """Two self-attention layers over (B, T, D) features, mean-pooled to logits (B, D)."""

    def __init__(self):
        super().__init__()
        self.first = MultiHeadSelfAttention(12, 3)
        self.second = MultiHeadSelfAttention(12, 3)

    def forward(self, x, lengths=None):
        x = x + self.first(x)[0]
        return (x + self.second(x)[0]).mean(1)


def test_attention_map_of_one_clip(tmp_path):
    torch.manual_seed(0)
    model = TwoLayerAttention().train()
    x = torch.randn(1, 5, 12)  # (1, T, D)
    weights = attention_weights(model, x, layer=0)
    assert weights.shape == (3, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))
    assert model.training and not any(m.keep_attention for m in attention_layers(model))
    figure = plot_attention(model, x, path=tmp_path / "attention.png", title="clip 0")
    assert "layer 1" in figure._suptitle.get_text()
    assert_png(tmp_path / "attention.png")
    with pytest.raises(ValueError, match="one example"):
        attention_weights(model, torch.randn(2, 5, 12))
    with pytest.raises(ValueError, match="no MultiHeadSelfAttention"):
        attention_weights(nn.Linear(12, 3), x)
