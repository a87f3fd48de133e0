"""TransformerEncoderLayer / TransformerEncoder against torch.nn, in float64 and eval mode.

torch.nn's encoder has a "fast path" (a fused C++ kernel, and nested tensors that drop the padded
frames) that it takes only under ``torch.no_grad()`` in eval mode. The comparisons with gradients
run with autograd on, so torch takes its ordinary path and every frame, padded ones included, must
agree. ``test_outputs_match_torch_fast_path_on_valid_frames`` covers the no-grad case: there the
nested-tensor path returns zeros at padded frames, so only valid frames are compared.
"""

import pytest
import torch
from layer_helpers import holding_weights, input_and_param_grads, padded_batch
from torch.testing import assert_close

from kws.models.transformer import TransformerEncoder, TransformerEncoderLayer

B, T, D, H, FF = 2, 5, 12, 3, 20  # distinct sizes, so a swapped axis fails loudly


def _layer_pair(device, **kwargs):
    """Ours and torch.nn's, float64, eval mode, with ours holding torch's weights."""
    theirs = torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True, **kwargs)
    return holding_weights(TransformerEncoderLayer(D, H, FF, **kwargs), theirs, device)


def _inputs(device):
    return padded_batch(device, T, D)  # second example: 2 padded frames


def _assert_same_run(ours, theirs, x, run):
    y, x_grad, grads = input_and_param_grads(ours, x, run)
    y_ref, x_grad_ref, grads_ref = input_and_param_grads(theirs, x, run)
    assert y.shape == (B, T, D)
    assert_close(y, y_ref)
    assert_close(x_grad, x_grad_ref)
    assert grads.keys() == grads_ref.keys()
    for name, grad in grads_ref.items():
        assert_close(grads[name], grad, msg=f"gradient of {name}")


def test_state_dict_keys_and_initial_weights_match_torch():
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True)
    torch.manual_seed(3)
    ours = TransformerEncoderLayer(D, H, FF)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_layer_outputs_and_gradients_match_torch(device, norm_first, padded, activation):
    ours, theirs = _layer_pair(device, norm_first=norm_first, activation=activation)
    x, mask = _inputs(device)
    mask = mask if padded else None
    _assert_same_run(ours, theirs, x, lambda m, x: m(x, src_key_padding_mask=mask))


def test_layer_without_bias_matches_torch(device):
    ours, theirs = _layer_pair(device, bias=False)
    assert not any(name.endswith("bias") for name in ours.state_dict())
    x, mask = _inputs(device)
    _assert_same_run(ours, theirs, x, lambda m, x: m(x, src_key_padding_mask=mask))


def test_layer_with_causal_mask_matches_torch(device):
    ours, theirs = _layer_pair(device)
    x, mask = _inputs(device)
    causal = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    _assert_same_run(ours, theirs, x, lambda m, x: m(x, src_mask=causal, src_key_padding_mask=mask))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("final_norm", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_encoder_outputs_and_gradients_match_torch(device, norm_first, final_norm, padded):
    layer = torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True, norm_first=norm_first)
    norm = torch.nn.LayerNorm(D) if final_norm else None
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=norm, enable_nested_tensor=False)
    ours = TransformerEncoder(TransformerEncoderLayer(D, H, FF, norm_first=norm_first), 2, norm)
    ours, theirs = holding_weights(ours, theirs, device)
    x, mask = _inputs(device)
    mask = mask if padded else None
    _assert_same_run(ours, theirs, x, lambda m, x: m(x, src_key_padding_mask=mask))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: nested tensors are a prototype
@pytest.mark.parametrize("norm_first", [False, True])
def test_outputs_match_torch_fast_path_on_valid_frames(device, norm_first):
    heads = 2  # torch uses nested tensors only for an even number of heads
    layer = torch.nn.TransformerEncoderLayer(D, heads, FF, batch_first=True, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
    ours = TransformerEncoder(TransformerEncoderLayer(D, heads, FF, norm_first=norm_first), 2)
    ours, theirs = holding_weights(ours, theirs, device)
    x, mask = _inputs(device)
    with torch.no_grad():
        y = ours(x, src_key_padding_mask=mask)
        y_ref = theirs(x, src_key_padding_mask=mask)
    assert_close(y[~mask], y_ref[~mask])


def test_valid_outputs_do_not_depend_on_padded_frames(device):
    ours, _ = _layer_pair(device)
    encoder = TransformerEncoder(ours, 2).to(device)
    x, mask = _inputs(device)
    changed = x.masked_fill(mask.unsqueeze(-1), 1e3)
    with torch.no_grad():
        y = encoder(x, src_key_padding_mask=mask)
        y_changed = encoder(changed, src_key_padding_mask=mask)
    assert_close(y[~mask], y_changed[~mask])


def test_encoder_layers_are_independent_copies():
    encoder = TransformerEncoder(TransformerEncoderLayer(D, H, FF), 3)
    assert [name for name, _ in encoder.named_children()] == ["layers"]
    with torch.no_grad():
        encoder.layers[0].linear1.weight.zero_()
    assert encoder.layers[1].linear1.weight.abs().sum() > 0
    assert (
        encoder.layers[0].linear1.weight.data_ptr() != encoder.layers[1].linear1.weight.data_ptr()
    )


def test_parameter_counts_of_the_course_layers():
    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert count(TransformerEncoderLayer(256, 8, dim_feedforward=512)) == 527_104
    assert count(TransformerEncoderLayer(80, 2, dim_feedforward=256)) == 67_536


def test_bad_settings_raise_value_error():
    with pytest.raises(ValueError, match="d_model=12 must be divisible by nhead=5"):
        TransformerEncoderLayer(12, 5)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderLayer(12, 3, activation="tanh")
    with pytest.raises(ValueError, match="dim_feedforward"):
        TransformerEncoderLayer(12, 3, dim_feedforward=0)
    with pytest.raises(ValueError, match="num_layers"):
        TransformerEncoder(TransformerEncoderLayer(12, 3), 0)
