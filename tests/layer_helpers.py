"""What the layer tests share: gradients that a wrong layer cannot match by accident."""

import torch


def input_and_param_grads(module, x, run):
    """Output, input gradient and parameter gradients of <run(module, x), g> for a fixed random
    cotangent g (a plain sum would hide errors: it is ~0 after a LayerNorm)."""
    x = x.clone().requires_grad_(True)
    module.zero_grad()
    y = run(module, x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    (y * g.to(y.device)).sum().backward()
    return y, x.grad, {name: p.grad for name, p in module.named_parameters()}
