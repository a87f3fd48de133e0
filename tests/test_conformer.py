"""Conformer against torchaudio.models.Conformer, in float64 and eval mode.

What holds, and is asserted here:
- same parameter count, and after ``load_torchaudio_state_dict`` the same outputs and gradients
  when no frame is padded;
- with padding, our valid frames equal torchaudio's output for each example alone, unpadded
  (we zero padded frames before the depthwise convolution); torchaudio's own padded-batch output
  differs from that at the last K // 2 valid frames of a padded example, and agrees before them
  (one block; attention spreads the difference everywhere after a second block).
"""

import pytest
import torch
import torchaudio
from torch.testing import assert_close

from kws.models.conformer import (
    Conformer,
    ConformerBlock,
    convert_torchaudio_state_dict,
    load_torchaudio_state_dict,
)

B, T, D, H, FF, K = 2, 5, 12, 3, 20, 3  # distinct sizes, so a swapped axis fails loudly


def _randomize_batch_norm(model):
    """Fresh BatchNorms are the identity in eval mode; give them statistics worth checking."""
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator))


def _pair(device, num_layers=2, **kwargs):
    """Ours and torchaudio's, float64, eval mode, with ours holding torchaudio's weights."""
    theirs = torchaudio.models.Conformer(D, H, FF, num_layers, K, **kwargs)
    _randomize_batch_norm(theirs)
    ours = Conformer(D, H, FF, num_layers, K, **kwargs)
    load_torchaudio_state_dict(ours, theirs.state_dict())
    return ours.double().to(device).eval(), theirs.double().to(device).eval()


def _inputs(device):
    torch.manual_seed(0)
    x = torch.randn(B, T, D, dtype=torch.float64, device=device)
    lengths = torch.tensor([T, 3], device=device)  # second example: 2 padded frames
    return x, lengths


@pytest.mark.parametrize(
    "config",
    [
        dict(input_dim=12, num_heads=3, ffn_dim=20, num_layers=2, depthwise_conv_kernel_size=3),
        dict(input_dim=80, num_heads=4, ffn_dim=128, num_layers=4, depthwise_conv_kernel_size=31),
        dict(input_dim=144, num_heads=4, ffn_dim=576, num_layers=3, depthwise_conv_kernel_size=15),
        dict(input_dim=64, num_heads=2, ffn_dim=256, num_layers=1, depthwise_conv_kernel_size=7),
    ],
)
@pytest.mark.parametrize("use_group_norm", [False, True])
def test_parameter_count_matches_torchaudio(config, use_group_norm):
    ours = Conformer(**config, use_group_norm=use_group_norm)
    theirs = torchaudio.models.Conformer(**config, use_group_norm=use_group_norm)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert len(ours.layers) == config["num_layers"]


@pytest.mark.parametrize("use_group_norm", [False, True])
@pytest.mark.parametrize("convolution_first", [False, True])
def test_outputs_and_gradients_match_torchaudio_without_padding(
    device, use_group_norm, convolution_first
):
    ours, theirs = _pair(device, use_group_norm=use_group_norm, convolution_first=convolution_first)
    x, _ = _inputs(device)
    full = torch.full((B,), T, device=device)
    g = torch.randn(B, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    results = []
    for model in (ours, theirs):
        x_in = x.clone().requires_grad_(True)
        y, lengths = model(x_in, full)
        (y * g.to(device)).sum().backward()
        results.append((y, lengths, x_in.grad))
    (y, lengths, x_grad), (y_ref, lengths_ref, x_grad_ref) = results
    assert y.shape == (B, T, D)
    assert_close(y, y_ref)
    assert torch.equal(lengths, lengths_ref)
    assert_close(x_grad, x_grad_ref)
    our_grads = convert_torchaudio_state_dict(
        {name: p.grad for name, p in theirs.named_parameters()}
    )
    for name, p in ours.named_parameters():
        assert_close(p.grad, our_grads[name], msg=f"gradient of {name}")


@pytest.mark.parametrize("convolution_first", [False, True])
def test_padded_batch_equals_each_example_alone(device, convolution_first):
    ours, theirs = _pair(device, convolution_first=convolution_first)
    x, lengths = _inputs(device)
    with torch.no_grad():
        y, _ = ours(x, lengths)
        y_theirs_padded, _ = theirs(x, lengths)
        for b, length in enumerate(lengths.tolist()):
            alone = x[b : b + 1, :length]  # (1, length, D), no padding at all
            y_alone, _ = theirs(alone, lengths[b : b + 1])
            assert_close(y[b, :length], y_alone[0])
    # torchaudio lets the padding leak: after two blocks even the first frame has changed.
    assert not torch.allclose(y_theirs_padded[1, 0], y[1, 0])


def test_valid_outputs_do_not_depend_on_padded_frames(device):
    ours, _ = _pair(device)
    x, lengths = _inputs(device)
    valid = torch.arange(T, device=device) < lengths[:, None]  # (B, T)
    with torch.no_grad():
        y, _ = ours(x, lengths)
        y_changed, _ = ours(x.masked_fill(~valid.unsqueeze(-1), 1e3), lengths)
    assert_close(y[valid], y_changed[valid])


def test_padding_differs_from_torchaudio_only_within_kernel_reach_of_the_end(device):
    """One block: frames more than K // 2 before the end of an example see no padded frame."""
    ours, theirs = _pair(device, num_layers=1)
    x, lengths = _inputs(device)
    with torch.no_grad():
        y, _ = ours(x, lengths)
        y_ref, _ = theirs(x, lengths)
    assert_close(y[0], y_ref[0])  # the unpadded example
    length = int(lengths[1])
    untouched = length - K // 2  # frames [0, untouched) never reach the padding
    assert_close(y[1, :untouched], y_ref[1, :untouched])
    assert not torch.allclose(y[1, untouched:length], y_ref[1, untouched:length])


def test_block_loads_a_torchaudio_layer_and_masks_padding(device):
    theirs = torchaudio.models.conformer.ConformerLayer(D, FF, H, K)
    _randomize_batch_norm(theirs)
    ours = ConformerBlock(D, FF, H, K)
    load_torchaudio_state_dict(ours, theirs.state_dict())
    ours, theirs = ours.double().to(device).eval(), theirs.double().to(device).eval()
    x, _ = _inputs(device)
    with torch.no_grad():
        y = ours(x)
        y_ref = theirs(x.transpose(0, 1), None).transpose(0, 1)  # torchaudio's layer is (T, B, D)
    assert_close(y, y_ref)


def test_lengths_default_to_full_and_are_returned_unchanged(device):
    ours, _ = _pair(device)
    x, lengths = _inputs(device)
    with torch.no_grad():
        y_default, lengths_default = ours(x)
        y_full, _ = ours(x, torch.full((B,), T, device=device))
        _, lengths_out = ours(x, lengths)
    assert_close(y_default, y_full)
    assert lengths_default.tolist() == [T, T]
    assert lengths_out is lengths
    with torch.no_grad():
        y_cpu_lengths, _ = ours(x, lengths.cpu())  # lengths straight from a data loader
        y_device_lengths, _ = ours(x, lengths)
    assert_close(y_cpu_lengths, y_device_lengths)


def test_training_mode_matches_torchaudio_without_padding(device):
    """BatchNorm on batch statistics, and the running statistics it updates, agree too."""
    ours, theirs = _pair(device)
    ours.train()
    theirs.train()
    x, _ = _inputs(device)
    full = torch.full((B,), T, device=device)
    y, _ = ours(x, full)
    y_ref, _ = theirs(x, full)
    assert_close(y, y_ref)
    ours_state = ours.state_dict()
    for name, value in convert_torchaudio_state_dict(theirs.state_dict()).items():
        assert_close(ours_state[name], value, msg=f"state {name}")


def test_bad_settings_and_inputs_raise_value_error():
    with pytest.raises(ValueError, match="depthwise_conv_kernel_size=4"):
        Conformer(D, H, FF, 1, depthwise_conv_kernel_size=4)
    with pytest.raises(ValueError, match="input_dim=12 must be divisible by num_attention_heads=5"):
        Conformer(D, 5, FF, 1, K)
    with pytest.raises(ValueError, match="num_layers"):
        Conformer(D, H, FF, 0, K)
    model = Conformer(D, H, FF, 1, K)
    with pytest.raises(ValueError, match="lengths must have shape"):
        model(torch.randn(B, T, D), torch.tensor([T]))
    with pytest.raises(ValueError, match="lengths must lie in"):
        model(torch.randn(B, T, D), torch.tensor([T, T + 1]))
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        model(torch.randn(T, D), torch.tensor([T]))
