"""What the layer tests share: a layer of ours beside the torch.nn one it imitates, seeded padded
inputs, and gradients that a wrong layer cannot match by accident."""

import torch

from kws.models.masks import lengths_to_mask


def holding_weights(ours, theirs, device):
    """(ours, theirs) with `theirs`'s weights loaded into `ours` (same keys: strict), both
    float64 on `device` in eval mode."""
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.double().to(device).eval(), theirs.double().to(device).eval()


def padded_batch(device, frames, width):
    """Seeded x (2, frames, width), float64 on `device`, and its padding mask (2, frames), True
    where padded: the first example is whole, the second has 3 valid frames."""
    torch.manual_seed(0)
    x = torch.randn(2, frames, width, dtype=torch.float64, device=device)
    mask = lengths_to_mask(torch.tensor([frames, 3], device=device), frames)
    return x, mask


def input_and_param_grads(module, x, run):
    """Output, input gradient and parameter gradients of <run(module, x), g> for a fixed random
    cotangent g (a plain sum would hide errors: it is ~0 after a LayerNorm)."""
    x = x.clone().requires_grad_(True)
    module.zero_grad()
    y = run(module, x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    (y * g.to(y.device)).sum().backward()
    return y, x.grad, {name: p.grad for name, p in module.named_parameters()}
