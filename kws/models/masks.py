"""Padding masks: one convention for the whole kit, ``True`` where a frame is padding.

Letters used in shapes: B batch, T frames (time steps).
"""

import torch


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Turn valid lengths into a key-padding mask.

    Args:
        lengths: integer tensor (B,), the number of valid frames of each example.
        max_len: T, the padded length of the batch; defaults to ``lengths.max()`` (which reads the
            value back from the device, so pass it when you know it, e.g. ``x.size(1)``).

    Returns:
        bool tensor (B, T), ``True`` at padded frames (index >= length), on the device of ``lengths``.

    Raises:
        ValueError: ``lengths`` is not a 1-D integer tensor, or (checked for CPU tensors only, to
            avoid a device sync on GPUs) a length is negative or larger than ``max_len``.

    Example:
        ```python
        lengths_to_mask(torch.tensor([3, 1]), 3)  # [[False, False, False], [False, True, True]]
        ```
    """
    if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(
            f"lengths must be a 1-D integer tensor (B,), got dtype {lengths.dtype} and shape "
            f"{tuple(lengths.shape)}; pass e.g. torch.tensor([T1, T2], dtype=torch.long)"
        )
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() > 0 else 0
    if lengths.device.type == "cpu" and lengths.numel() > 0:
        smallest, largest = int(lengths.min()), int(lengths.max())
        if smallest < 0 or largest > max_len:
            raise ValueError(
                f"lengths must lie in [0, {max_len}] (the padded length T), got values from "
                f"{smallest} to {largest}; are they counted in the same unit as the frames of x "
                f"(e.g. frames, not samples)?"
            )
    positions = torch.arange(max_len, device=lengths.device)  # (T,)
    return positions.unsqueeze(0) >= lengths.unsqueeze(1)  # (1, T) vs (B, 1) -> (B, T)
