"""MultiHeadSelfAttention and lengths_to_mask: against torch.nn.MultiheadAttention, in float64."""

import pytest
import torch
from layer_helpers import holding_weights, input_and_param_grads, padded_batch
from torch.testing import assert_close

from kws.models.attention import MultiHeadSelfAttention
from kws.models.masks import lengths_to_mask

B, T, D, H = 2, 5, 12, 3  # distinct sizes, so a swapped axis fails loudly


def _pair(device, **kwargs):
    """Ours and torch.nn's, float64, eval mode, with ours holding torch's weights."""
    theirs = torch.nn.MultiheadAttention(D, H, batch_first=True, **kwargs)
    return holding_weights(MultiHeadSelfAttention(D, H, **kwargs), theirs, device)


def _inputs(device):
    return padded_batch(device, T, D)  # second example: 2 padded frames


def test_lengths_to_mask_marks_padding_true():
    mask = lengths_to_mask(torch.tensor([3, 1, 0]), 4)
    expected = torch.tensor(
        [[False, False, False, True], [False, True, True, True], [True, True, True, True]]
    )
    assert torch.equal(mask, expected)
    assert lengths_to_mask(torch.tensor([2, 4])).shape == (2, 4)  # max_len defaults to the max


@pytest.mark.parametrize(
    "lengths, max_len",
    [(torch.tensor([3.0, 2.0]), 4), (torch.tensor([[3, 2]]), 4), (torch.tensor([5, 2]), 4)],
)
def test_lengths_to_mask_rejects_bad_lengths(lengths, max_len):
    with pytest.raises(ValueError, match="lengths"):
        lengths_to_mask(lengths, max_len)


def test_state_dict_keys_and_initial_weights_match_torch():
    torch.manual_seed(3)
    theirs = torch.nn.MultiheadAttention(D, H, batch_first=True)
    torch.manual_seed(3)
    ours = MultiHeadSelfAttention(D, H)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[name], value, rtol=0, atol=0)
    no_bias = MultiHeadSelfAttention(D, H, bias=False)
    assert list(no_bias.state_dict()) == ["in_proj_weight", "out_proj.weight"]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("padded", [False, True])
def test_outputs_and_gradients_match_torch(device, fused, padded):
    ours, theirs = _pair(device)
    ours.fused = fused
    x, mask = _inputs(device)
    mask = mask if padded else None
    y, x_grad, grads = input_and_param_grads(ours, x, lambda m, x: m(x, key_padding_mask=mask)[0])
    y_ref, x_grad_ref, grads_ref = input_and_param_grads(
        theirs, x, lambda m, x: m(x, x, x, key_padding_mask=mask, need_weights=False)[0]
    )
    assert y.shape == (B, T, D)
    assert_close(y, y_ref)
    assert_close(x_grad, x_grad_ref)
    for name, grad in grads_ref.items():
        assert_close(grads[name], grad, msg=f"gradient of {name}")


def test_returned_weights_match_torch_per_head(device):
    ours, theirs = _pair(device)
    x, mask = _inputs(device)
    with torch.no_grad():
        _, weights = ours(x, key_padding_mask=mask, need_weights=True)
        _, weights_ref = theirs(x, x, x, key_padding_mask=mask, average_attn_weights=False)
    assert weights.shape == (B, H, T, T)
    assert_close(weights, weights_ref)


def test_explicit_and_fused_paths_agree_with_both_masks(device):
    ours, _ = _pair(device)
    x, mask = _inputs(device)
    causal = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)

    def run(module, x):
        return module(x, key_padding_mask=mask, attn_mask=causal)[0]

    ours.fused = True
    y_fused, x_grad_fused, grads_fused = input_and_param_grads(ours, x, run)
    ours.fused = False
    y_explicit, x_grad_explicit, grads_explicit = input_and_param_grads(ours, x, run)
    assert_close(y_explicit, y_fused)
    assert_close(x_grad_explicit, x_grad_fused)
    for name, grad in grads_fused.items():
        assert_close(grads_explicit[name], grad, msg=f"gradient of {name}")


def test_causal_mask_matches_torch(device):
    ours, theirs = _pair(device)
    x, mask = _inputs(device)
    causal = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    with torch.no_grad():
        y, weights = ours(x, key_padding_mask=mask, need_weights=True, attn_mask=causal)
        y_ref, weights_ref = theirs(
            x, x, x, key_padding_mask=mask, attn_mask=causal, average_attn_weights=False
        )
    assert_close(y, y_ref)
    assert_close(weights, weights_ref)
    assert torch.all(weights[..., causal] == 0)  # no query sees the future


def test_weights_sum_to_one_over_valid_keys_and_zero_on_padded_keys(device):
    ours, _ = _pair(device)
    x, mask = _inputs(device)
    with torch.no_grad():
        _, weights = ours(x, key_padding_mask=mask, need_weights=True)  # (B, H, T, T)
    assert_close(weights.sum(dim=-1), torch.ones(B, H, T, dtype=torch.float64, device=device))
    padded_keys = mask[:, None, None, :].expand(B, H, T, T)  # (B, H, T, T)
    assert torch.all(weights[padded_keys] == 0)
    assert torch.all(weights[~padded_keys] > 0)


@pytest.mark.parametrize("fused", [True, False])
def test_valid_outputs_do_not_depend_on_padded_frames(device, fused):
    ours, _ = _pair(device)
    ours.fused = fused
    x, mask = _inputs(device)
    changed = x.masked_fill(mask.unsqueeze(-1), 1e3)  # garbage in the padded frames
    with torch.no_grad():
        y = ours(x, key_padding_mask=mask)[0]
        y_changed = ours(changed, key_padding_mask=mask)[0]
    assert_close(y[~mask], y_changed[~mask])


@pytest.mark.parametrize("fused", [True, False])
def test_fully_padded_example_gives_finite_outputs_and_gradients(device, fused):
    ours, _ = _pair(device)
    ours.fused = fused
    x, _ = _inputs(device)
    mask = lengths_to_mask(torch.tensor([T, 0], device=device), T)  # second example: all padding
    y, x_grad, grads = input_and_param_grads(ours, x, lambda m, x: m(x, key_padding_mask=mask)[0])
    assert torch.isfinite(y).all() and torch.isfinite(x_grad).all()
    assert all(torch.isfinite(grad).all() for grad in grads.values())
    assert_close(y[1], ours.out_proj.bias.expand(T, D))  # zero weights -> only the output bias
    assert torch.all(x_grad[1] == 0)


def test_keep_attention_stores_detached_weights_for_plots(device):
    ours, _ = _pair(device)
    x, mask = _inputs(device)
    assert ours.last_attention is None
    ours.keep_attention = True
    y, returned = ours(x.requires_grad_(True), key_padding_mask=mask)
    assert returned is None  # not asked for
    assert ours.last_attention.shape == (B, H, T, T)
    assert not ours.last_attention.requires_grad
    _, weights = ours(x, key_padding_mask=mask, need_weights=True)
    assert_close(ours.last_attention, weights.detach())


@pytest.mark.parametrize("fused", [True, False])
def test_dropout_only_in_training(device, fused):
    torch.manual_seed(0)
    ours = MultiHeadSelfAttention(D, H, dropout=0.5, fused=fused).double().to(device)
    x, mask = _inputs(device)
    with torch.no_grad():
        ours.eval()
        assert_close(ours(x, key_padding_mask=mask)[0], ours(x, key_padding_mask=mask)[0])
        ours.train()
        y_train = ours(x, key_padding_mask=mask)[0]
        ours.eval()
        y_eval = ours(x, key_padding_mask=mask)[0]
    assert not torch.allclose(y_train, y_eval)


def test_bad_settings_and_inputs_raise_value_error():
    with pytest.raises(ValueError, match="num_heads=5"):
        MultiHeadSelfAttention(12, 5)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadSelfAttention(12, 3, dropout=1.5)
    ours = MultiHeadSelfAttention(D, H)
    x = torch.randn(B, T, D)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        ours(torch.randn(T, D))
    with pytest.raises(ValueError, match="embed_dim=12"):
        ours(torch.randn(B, T, D + 1))
    with pytest.raises(ValueError, match="key_padding_mask"):
        ours(x, key_padding_mask=torch.zeros(B, T))  # float, not bool
    with pytest.raises(ValueError, match="key_padding_mask"):
        ours(x, key_padding_mask=torch.zeros(T, B, dtype=torch.bool))  # (T, B), not (B, T)
    with pytest.raises(ValueError, match="attn_mask"):
        ours(x, attn_mask=torch.zeros(T, T))  # a float mask
