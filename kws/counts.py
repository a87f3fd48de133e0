"""Counting weights and printing counts as the course does, without torch: the grader's own
process counts a checkpoint's encoder block (`kws.grading.judge.budget`) without importing torch, and
the probes (`kws.tracing.probes`) count the live model with the same rule (`kws.params` re-exports
both).

>>> format_count(154_880)
'154.88k'
"""

# A normalization's bookkeeping: saved with the weights, but not weights of a budget.
NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def is_bookkeeping(key: str, value) -> bool:
    """Whether state-dict entry `key` is a normalization's bookkeeping, the only tensors a budget
    leaves out: a running mean or variance (one float per channel, 1-D) or the integer scalar
    ``num_batches_tracked``. The same names on other shapes or dtypes (a table saved as
    ``x.running_mean``) are not bookkeeping."""
    name = key.rsplit(".", 1)[-1]
    if name == "num_batches_tracked":
        return value.dim() == 0 and not value.is_floating_point()
    return name in NORM_STATISTICS and value.dim() == 1 and value.is_floating_point()


def is_weight(key: str, value: object) -> bool:
    """Whether a state-dict entry counts toward a parameter budget.

    Every tensor of every dtype counts (parameters and buffers; float, integer and bool alike,
    since an integer tensor can hold float weights as bit patterns or a table of answers) but a
    normalization's bookkeeping (running mean and variance, ``num_batches_tracked``). The
    grader's checkpoint count and the probes' live count both use it.

    Args:
        key: the entry's key ("encoder.layers.0.norm1.weight").
        value: the entry's tensor (or a `load_state` stand-in with its shape and dtype).

    Returns:
        True when it counts.

    Example:
        ```python
        total = sum(v.numel for k, v in load_state(path, "task1").items() if is_weight(k, v))
        ```
    """
    return not is_bookkeeping(key, value)


def format_count(n: int) -> str:
    """A count as the course reports it: 154880 -> "154.88k", 2152287 -> "2.15M".

    Counts below 1000 are returned as they are ("999"); then k, M and B with two decimals.

    Args:
        n: the count.

    Returns:
        Its short text.

    Example:
        ```python
        format_count(154_880)  # "154.88k"
        ```
    """
    if n < 1000:
        return str(n)
    value = float(n)
    for unit in ["k", "M", "B"]:
        value /= 1000
        if round(value, 2) < 1000 or unit == "B":
            return f"{value:.2f}{unit}"
    raise AssertionError("unreachable")
