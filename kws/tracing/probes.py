"""The course's structural checks on a student's model, answered by tracing one forward pass.

Runs inside the grading child (and in `kws.check`, in the student's own notebook). Every answer
comes from what executed (see `kws.tracing.trace`), never from reading source code.
"""

from __future__ import annotations

import os
import sysconfig
import types
from pathlib import Path

import torch
from torch import nn

from kws.i18n import N_, Text
from kws.params import format_count, is_weight
from kws.tracing.compare import logits_of, not_finite, traced_mismatch, unsteady, untraced_output
from kws.tracing.determinism import SEED, seeded
from kws.tracing.trace import (
    Trace,
    forbidden_package_class,
    originals,
    tensor_key,
    trace_forward,
)

# Steps between a tensor and where it is used that leave its values as they are.
_PASS_THROUGH = {
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "squeeze",
    "unsqueeze",
    "flatten",
    "contiguous",
    "clone",
    "float",
    "to",
    "identity",
}


class ProbeError(ValueError):
    """The model does not have the structure a probe needs; the message says what to change."""


def count_layer_calls(
    model: nn.Module, example_inputs: torch.Tensor | tuple, layer_class_name: str
) -> int:
    """How many times the forward of a class runs in one forward of `model`.

    A layer that is defined but never called counts 0; one layer called three times counts 3;
    calling ``layer.forward(x)`` directly counts too.

    Args:
        model: the student's model.
        example_inputs: a tensor, or a tuple of positional arguments.
        layer_class_name: the class's name ("EncoderLayer").

    Returns:
        The number of calls.

    Example:
        ```python
        assert count_layer_calls(model, (x, lengths), "EncoderLayer") < 4
        ```
    """
    return layer_calls(trace_forward(model, example_inputs), model, layer_class_name)


def layer_calls(trace: Trace, model: nn.Module, layer_class_name: str) -> int:
    """`count_layer_calls` on an existing trace of `model` (one forward pass for several probes).

    Args:
        trace: `trace_forward`'s record of one forward of `model`.
        model: the model traced.
        layer_class_name: the class's name ("EncoderLayer").

    Returns:
        The number of calls of that class's forward.

    Example:
        ```python
        calls = layer_calls(trace_forward(model, (x, lengths)), model, "EncoderLayer")
        ```
    """
    modules = list(model.modules()) + [module for _, module in trace.module_calls]
    codes = set()
    for module in modules:
        if any(cls.__name__ == layer_class_name for cls in type(module).__mro__):
            forward = type(module).forward
            codes.add(getattr(forward, "__code__", None))
    return sum(trace.code_calls[code] for code in codes if code is not None)


def encoder_params(model: nn.Module, attr: str = "encoder") -> int:
    """The number of weights of `model.<attr>`, "the encoder block" (shared ones counted once).

    Parameters and buffers of every dtype alike (a buffer can be trained and saved like a
    parameter), except a normalization's bookkeeping; `encoder_budget` counts the checkpoint the
    same way.

    Args:
        model: the student's model.
        attr: the attribute the skeleton names the encoder block.

    Returns:
        The count.

    Example:
        ```python
        assert encoder_params(model) < 500_000
        ```
    """
    encoder = getattr(model, attr, None)
    if not isinstance(encoder, nn.Module):
        raise ProbeError(
            f"the model has no module `.{attr}` (found {type(encoder).__name__}); keep the "
            f"skeleton's `self.{attr} = ...` holding the encoder block"
        )
    seen, total = set(), 0
    for name, tensor in [*encoder.named_parameters(), *encoder.named_buffers()]:
        if id(tensor) not in seen and is_weight(name, tensor):
            seen.add(id(tensor))
            total += tensor.numel()
    return total


def model_params(model: nn.Module) -> int:
    """The number of weights in `model`'s state dict, counted as a budget counts the saved
    ``model.pt`` (`kws.grading.judge.budget.checkpoint_weights`): every tensor of every dtype but
    a normalization's bookkeeping (`is_weight`), a tensor saved under two names counted twice."""
    return sum(value.numel() for key, value in model.state_dict().items() if is_weight(key, value))


def encoder_params_text(model: nn.Module, attr: str = "encoder") -> str:
    """The encoder block's parameter count as the course prints it.

    Args:
        model: the student's model.
        attr: the attribute the skeleton names the encoder block.

    Returns:
        The count's text, e.g. "154.88k" (`format_count`).

    Example:
        ```python
        print(f"The parameter size of encoder block is {encoder_params_text(model)}")
        ```
    """
    return format_count(encoder_params(model, attr))


def forbidden_modules_used(model: nn.Module, example_inputs) -> list[str]:
    """The library layers a "from scratch" task forbids that run in one forward of `model`.

    Each entry reads like "torch.nn.MultiheadAttention (module encoder.attn)". Found by
    execution, so aliases, subclasses, direct ``Class.forward(obj, x)`` calls and functional
    attention (``F.multi_head_attention_forward``) are all seen. [] when there are none.
    """
    return forbidden_in(trace_forward(model, example_inputs))


def forbidden_in(trace: Trace) -> list[str]:
    """The ready-made layers (torch.nn's Transformer and attention layers, torchaudio's, the kit's
    own) that ran in a traced forward pass, where a task says "from scratch".

    Args:
        trace: `trace_forward`'s record of one forward pass.

    Returns:
        One "class (where it ran)" text per layer found; empty when none ran.

    Example:
        ```python
        used = forbidden_in(trace_forward(model, (x, lengths)))
        checker.expect(not used, "written from scratch", f"replace {used[0]}" if used else "")
        ```
    """
    return [f"{public} ({where})" for public, where in trace.forbidden.items()]


def _library_dirs() -> list[str]:
    import kws
    from kws.compat import torchaudio

    dirs = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs |= {str(Path(m.__file__).parent) for m in (torch, torchaudio, kws)}
    return [os.path.realpath(d) + os.sep for d in dirs]


def layer_class_problem(ns: dict, name: str) -> str | None:
    """Why the class a task names is not the student's own work; None when it is.

    It must be an ``nn.Module`` defined in the notebook, not built on a ready-made layer, with a
    ``forward`` of its own that is not library code.

    Args:
        ns: the notebook's namespace.
        name: the class's name ("EncoderLayer").

    Returns:
        None, or the problem in a sentence that says the fix.

    Example:
        ```python
        problem = layer_class_problem(ns, "EncoderLayer")
        checker.expect(problem is None, "EncoderLayer is your own", problem or "")
        ```
    """
    cls = ns.get(name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        said = N_("the notebook does not define a class `{name}` (an nn.Module) in its model cells")
        return Text(said, name=name)
    forbidden = [
        originals().forbidden_classes[c] for c in cls.__mro__ if c in originals().forbidden_classes
    ] + [library for library in [forbidden_package_class(cls)] if library]
    if forbidden:
        said = N_("`{name}` is built on {base}; write the layer yourself from nn.Module")
        return Text(said, name=name, base=forbidden[0])
    if cls.__module__ != ns.get("__name__", "__main__"):
        said = N_("`{name}` comes from `{module}`; define the class in the notebook itself")
        return Text(said, name=name, module=cls.__module__)
    forward = vars(cls).get("forward")
    if not isinstance(forward, types.FunctionType):
        said = N_("`{name}` has no forward method of its own; write `def forward(self, ...)` in it")
        return Text(said, name=name)
    filename = os.path.realpath(forward.__code__.co_filename)
    if any(filename.startswith(d) for d in _library_dirs()):
        said = N_("`{name}.forward` is library code ({file}); write the forward pass yourself")
        return Text(said, name=name, file=filename)
    return None


def layer_class_defined_in_notebook(ns: dict, name: str) -> bool:
    """True when class `name` of namespace `ns` was written in the notebook, not imported."""
    return layer_class_problem(ns, name) is None


def _follow(trace: Trace, key):
    """The op that produced tensor `key`, looking through value-preserving steps (reshapes)."""
    op = trace.producers.get(key)
    while op is not None and op.inputs and _is_pass_through(op):
        op = trace.producers.get(op.inputs[0])
    return op


def _is_pass_through(op) -> bool:
    if isinstance(op.target, (nn.Identity, nn.Flatten, nn.modules.dropout._DropoutNd)):
        return not op.target.training or isinstance(op.target, (nn.Identity, nn.Flatten))
    return not isinstance(op.target, nn.Module) and op.name in _PASS_THROUGH


def _is_linear(op) -> bool:
    if isinstance(op.target, nn.Linear):
        return True
    return op.target is originals().linear_function


def _is_norm(op) -> bool:
    if isinstance(op.target, nn.Module):
        return isinstance(op.target, originals().norm_classes)
    return id(op.target) in originals().norm_functions


def _describe(op) -> Text:
    if op is None:
        return Text(N_("no traced operation (a tensor made outside torch functions)"))
    if isinstance(op.target, nn.Module):
        return Text(N_("module `{module}` ({name})"), module=op.module, name=op.name)
    return Text(N_("`{name}` in `{module}`"), name=op.name, module=op.module)


def norm_feeds_classifier(model: nn.Module, example_inputs) -> tuple[bool, str]:
    """Whether a normalization's output is the input of the classifier's final Linear.

    The final Linear is the one whose output is the model output (reshapes in between allowed);
    its input must come straight from a BatchNorm/LayerNorm/GroupNorm module or
    ``F.batch_norm/layer_norm/group_norm`` (view/reshape/squeeze/contiguous/eval dropout in between
    allowed). Returns (passed, one or two sentences for the student).
    """
    return norm_feeds_classifier_in(trace_forward(model, example_inputs))


def norm_feeds_classifier_in(trace: Trace) -> tuple[bool, str]:
    """Whether a normalization's output is the input of the model's final Linear, in a traced
    forward pass (a module or a functional norm, found by following the tensors).

    Args:
        trace: `trace_forward`'s record of one forward pass.

    Returns:
        (passed, explanation): the explanation names the layers found, and the fix.

    Example:
        ```python
        passed, why = norm_feeds_classifier_in(trace_forward(model, (x, lengths)))
        ```
    """
    output = trace.output[0] if isinstance(trace.output, (tuple, list)) else trace.output
    if not isinstance(output, torch.Tensor):
        said = N_("The model returned {kind}, not a tensor of logits.")
        return False, Text(said, kind=type(output).__name__)
    last = _follow(trace, tensor_key(output))
    if last is None or not _is_linear(last):
        said = N_(
            "The model output is produced by {op}, not by a final nn.Linear; end the model with "
            "the classifier Linear."
        )
        return False, Text(said, op=_describe(last))
    if not last.inputs:
        said = N_("Could not see the input of the classifier {op}.")
        return False, Text(said, op=_describe(last))
    source = _follow(trace, last.inputs[0])
    if source is not None and _is_norm(source):
        said = N_("The classifier {op} takes the output of {source}.")
        return True, Text(said, op=_describe(last), source=_describe(source))
    said = N_(
        "The input of the classifier {op} comes from {source}, not from a normalization; put a "
        "BatchNorm1d/LayerNorm (or F.layer_norm) right before the final Linear."
    )
    return False, Text(said, op=_describe(last), source=_describe(source))


def task_rules(task: str) -> dict:
    """The structural rules of the kit's task named `task` (``rules`` of its ``[tasks.<task>]``
    in its assignment's spec.toml); ProbeError unless exactly one assignment has that task."""
    from kws.spec import assignments

    found = [spec.tasks[task].rules for spec in assignments().values() if task in spec.tasks]
    if len(found) != 1:
        tasks = sorted({name for spec in assignments().values() for name in spec.tasks})
        raise ProbeError(f"unknown task {task!r}; expected one of {tasks}, or pass its rules")
    return found[0]


def probe_facts(
    task: str,
    model: nn.Module,
    ns: dict,
    batches: torch.Tensor | tuple | list[tuple],
    exact: bool = True,
    *,
    rules: dict | None = None,
) -> dict:
    """All structural facts of `task`'s model, from traced forward passes; JSON-able.

    The one function that measures them: the grading child calls it on the graded prediction
    batches (its facts reach a graded test through ``grading.probe_facts(child, task)``), and a
    notebook's self-check calls it on a small batch, so both judge the same numbers.

    Args:
        task: the task's name ("task1").
        model: the student's model.
        ns: the notebook's namespace (where the classes the rules name must be defined).
        batches: model inputs (a tensor or a tuple of arguments), or a list of
            ``(inputs, untraced_output[, seed])`` — graded prediction batches with the output
            the untraced model gave them under the seeds of `kws.tracing.determinism.seeded`
            (None: computed here first; the seed defaults to its ``SEED``). Each is traced under
            the same seed and its traced output compared with the untraced one, so the facts
            describe the very computation that produced the graded predictions.
        exact: compare bit for bit (both runs on the CPU) or within float rounding. A model
            whose trace shows a library layer is always compared within float rounding: those
            layers take a fused path when nothing watches them (and fail "from scratch" anyway).
        rules: the task's structural rules (`kws.spec.Task.rules`; default: those of the task
            named `task` of the assignments the kit knows).

    Returns:
        {fact: value}: ``layer_calls`` (encoder layers that ran: the longest chain of attention
        computations), ``layer_class_calls`` (forward calls of the rules' ``layer_class``),
        ``attention_modules`` (where attention ran), ``attention_sizes`` ([score elements per
        example, keys] of each attention computation of the first batch), ``encoder_params`` and
        ``encoder_params_text`` (of ``model.encoder``, None without one), ``model_params`` and
        ``model_params_text`` (every weight of the state dict, as a budget counts a checkpoint),
        ``forbidden`` (library layers that ran, "class (where)"), ``layer_class_problem`` and
        ``class_problems`` ({class name: problem or None} of the rules' ``own_classes``): why a
        class is not the notebook's own work, ``norm_before_classifier`` ([passed, explanation],
        or None when the rules do not ask), ``tampering``, ``traced_mismatch`` (None, or why the
        traced run differs from the untraced one while two untraced runs agree: it computes
        something else when watched), ``unsteady`` (None, or why two untraced runs under the
        same seeds differ: randomness in eval mode, named where it is drawn, or state kept
        between calls), ``not_finite`` (None, or where the traced output is NaN or infinite),
        ``traced_batches``, ``output_shape``.

    Raises:
        Exception: whatever the model's forward raises.

    Example:
        ```python
        facts = probe_facts("task1", model, ns, (x, lengths), rules=spec.tasks["task1"].rules)
        checker.expect(not facts["forbidden"], "written from scratch", "use your own layers")
        ```
    """
    rules = task_rules(task) if rules is None else rules
    if not isinstance(batches, list):
        batches = [(batches, None)]
    batches = [(*batch, SEED)[:3] for batch in batches]
    layer_class = rules.get("layer_class")
    own_classes = rules.get("own_classes", [])
    facts = {
        "task": task,
        "output_shape": None,
        "forbidden": [],
        "tampering": [],
        "traced_mismatch": None,
        "unsteady": None,
        "not_finite": None,
        "traced_batches": len(batches),
        "layer_class": layer_class,
        "layer_calls": 0,
        "layer_class_calls": 0 if layer_class else None,
        "attention_modules": [],
        "attention_sizes": None,  # of the first traced batch: [elements per example, keys] each
        "layer_class_problem": layer_class_problem(ns, layer_class) if layer_class else None,
        "class_problems": {name: layer_class_problem(ns, name) for name in own_classes},
        "encoder_params": None,
        "encoder_params_text": None,
        "model_params": None,
        "model_params_text": None,
        "norm_before_classifier": None,
    }
    for inputs, untraced, seed in batches:
        if untraced is None:
            with seeded(seed):
                untraced = untraced_output(model, inputs)
        with seeded(seed):
            trace = trace_forward(model, inputs)
        output = logits_of(trace.output)
        if facts["output_shape"] is None and isinstance(output, torch.Tensor):
            facts["output_shape"] = list(output.shape)
        if facts["not_finite"] is None:
            facts["not_finite"] = not_finite(trace.output)
        mismatch = traced_mismatch(trace.output, untraced, exact)
        if mismatch and trace.forbidden:  # torch's own layers take a fused path when untraced
            mismatch = traced_mismatch(trace.output, untraced, exact=False)
        if mismatch and facts["unsteady"] is None:
            facts["unsteady"] = unsteady(model, inputs, untraced, trace.output, seed, exact)
        if mismatch and facts["unsteady"] is None and facts["traced_mismatch"] is None:
            size = len(inputs[0]) if isinstance(inputs, tuple) else len(inputs)
            facts["traced_mismatch"] = Text.counted(
                "on a batch of {n} test input, {mismatch}",
                "on a batch of {n} test inputs, {mismatch}",
                size,
                mismatch=mismatch,
            )
        facts["forbidden"] += [f for f in forbidden_in(trace) if f not in facts["forbidden"]]
        facts["tampering"] += [t for t in trace.tampering if t not in facts["tampering"]]
        facts["layer_calls"] = max(facts["layer_calls"], trace.attention_layers)
        if layer_class:
            calls = layer_calls(trace, model, layer_class)
            facts["layer_class_calls"] = max(facts["layer_class_calls"], calls)
        if facts["attention_sizes"] is None:
            facts["attention_sizes"] = trace.attention_sizes
        modules = {where for where, _ in trace.attention} | set(facts["attention_modules"])
        facts["attention_modules"] = sorted(modules)
        if rules.get("norm_before_classifier"):
            passed, why = norm_feeds_classifier_in(trace)
            if facts["norm_before_classifier"] is None or facts["norm_before_classifier"][0]:
                facts["norm_before_classifier"] = [passed, why]
    if hasattr(model, "encoder"):
        facts["encoder_params"] = encoder_params(model)
        facts["encoder_params_text"] = encoder_params_text(model)
    facts["model_params"] = model_params(model)
    facts["model_params_text"] = format_count(facts["model_params"])
    return facts
