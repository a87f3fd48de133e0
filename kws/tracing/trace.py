"""Trace what a model's forward pass really executes: modules, functions and tensor provenance.

Runs inside the grading child, on a student's model. Three observers watch one forward pass:

- global module hooks (forward pre-hook and forward hook): which modules are called, and the
  module stack at every moment;
- a ``TorchFunctionMode``: every torch function and tensor method called (``F.linear``,
  ``F.layer_norm``, ``x.view`` ...), with its input and output tensors, so the producer of any
  tensor is known;
- ``sys.setprofile``: every Python function and builtin executed, so code of a forbidden layer
  is seen however it was reached (an alias, a subclass, ``Class.forward(obj, x)`` called directly,
  a function captured before tracing).

The recorder also finds every **attention computation** — a softmax over a square (T, T) score
tensor, or a fused attention call — and how many of them ran one after another (each one's input
depending on the previous one's output): that depth is the number of encoder layers that ran,
whatever the layers' classes are called and wherever they sit in the model. Heads computed side by
side do not depend on each other, so they count once.

Because student code runs in this same process, `capture_originals` must run before it and
`verify_untampered` after it: they report any genuine torch object the student replaced (and,
in the grading child, any change to the standard library, threads or hooks:
`kws.tracing.guard`).
"""

from __future__ import annotations

import collections
import importlib
import itertools
import pkgutil
import sys
import types
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
import torch.nn.modules.module as module_globals
from torch import nn
from torch.overrides import TorchFunctionMode

# Where the classes a "from scratch" task forbids live, as (module path, attribute, public name).
FORBIDDEN_CLASSES = [
    ("torch.nn", "TransformerEncoderLayer", "torch.nn.TransformerEncoderLayer"),
    ("torch.nn", "TransformerEncoder", "torch.nn.TransformerEncoder"),
    ("torch.nn", "MultiheadAttention", "torch.nn.MultiheadAttention"),
    ("torchaudio.models", "Conformer", "torchaudio.models.Conformer"),
    ("torchaudio.models.conformer", "ConformerLayer", "torchaudio.models.Conformer"),
    ("torchaudio.models.conformer", "_ConvolutionModule", "torchaudio.models.Conformer"),
    ("torchaudio.models.conformer", "_FeedForwardModule", "torchaudio.models.Conformer"),
]
FORBIDDEN_FUNCTIONS = [
    ("torch.nn.functional", "multi_head_attention_forward", "F.multi_head_attention_forward"),
    ("torch", "_native_multi_head_attention", "torch._native_multi_head_attention"),
    ("torch", "_transformer_encoder_layer_fwd", "torch.nn.TransformerEncoderLayer (fast path)"),
]
# Libraries of ready-made Transformer blocks, forbidden whole where a task says "from scratch":
# any of their nn.Module classes that runs is found by its class and its bases' module, without
# importing the library (a grading environment need not have it).
FORBIDDEN_PACKAGES = ("timm",)
# Classes whose identity and methods the norm-before-classifier check relies on.
WATCHED_CLASSES = [("torch.nn", a) for a in ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]]
WATCHED_CLASSES += [("torch.nn", "LayerNorm"), ("torch.nn", "GroupNorm"), ("torch.nn", "Linear")]
WATCHED_CLASSES += [("torch.nn.modules.batchnorm", "_BatchNorm")]
NORM_FUNCTIONS = [("torch.nn.functional", n) for n in ["batch_norm", "layer_norm", "group_norm"]]
NORM_FUNCTIONS += [("torch", n) for n in ["batch_norm", "layer_norm", "group_norm"]]
NORM_FUNCTIONS += [("torch", n) for n in ["native_batch_norm", "native_layer_norm"]]
NORM_FUNCTIONS += [("torch", "native_group_norm")]
# Attention computed in one call (fused kernels, library attention) and softmax functions whose
# square (T, T) output is an attention score matrix.
FUSED_ATTENTION = {
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "_native_multi_head_attention",
    "_transformer_encoder_layer_fwd",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
}
SOFTMAX_FUNCTIONS = {"softmax", "_softmax", "log_softmax", "_log_softmax", "softmin"}
# The grader's own code that runs in the child after the notebook's cells: the probes, the
# checkpoint's loading and the predictions (`kws.grading.child.checkpoint`, `.predictions`), the
# numeric checks (`kws.grading.child.numeric`) and the judges they call (the checker, the layer
# toolkit and its weight copying), the runner of the cells a check needs
# (`kws.grading.child.cells`); and every assignment folder's modules (its checks.py and helpers
# such as notebook 01's schedule judge), see `grader_modules`. Not the child's entry point
# (`kws.grading.child.runner`): it runs as ``__main__``, so importing it by name here would watch
# a copy that never runs.
GRADER_MODULES = [
    "kws.tracing.probes",
    "kws.tracing.trace",
    "kws.tracing.determinism",
    "kws.tracing.compare",
    "kws.grading.protocol.inputs",
    "kws.tracing.guard",
    "kws.grading.child.channel",
    "kws.grading.child.checkpoint",
    "kws.grading.child.predictions",
    "kws.grading.child.numeric",
    "kws.grading.child.cells",
    "kws.grading.protocol.handin",
    "kws.grading.protocol.checkpoint",
    "kws.check",
    "kws.check.selfcheck",
    "kws.check.layer_inputs",
    "kws.check.layers",
    "kws.check.precision",
    "kws.check.weights",
    "kws.check.registry",
]


def grader_modules() -> list[str]:
    """`GRADER_MODULES` and the Python modules of every assignment's folder; those of a folder
    that is no package of the kit (a course's own, in the instructor's or a student's notebook)
    are loaded from their files first (`kws.spec.Spec.module`), so that they can be watched."""
    from kws.spec import assignments

    names = list(GRADER_MODULES)
    for spec in assignments().values():
        if spec.package is None:
            for name in spec.modules():
                spec.module(name.rpartition(".")[2])
        names += spec.modules()
    return names


def forbidden_package_class(cls: type) -> str | None:
    """``module.Class`` of `cls` or of a base class of it from a `FORBIDDEN_PACKAGES` library."""
    for base in getattr(cls, "__mro__", ()):
        module = getattr(base, "__module__", None) or ""
        if module.partition(".")[0] in FORBIDDEN_PACKAGES:
            return f"{module}.{base.__qualname__}"
    return None


HOOK_DICTS = [n for n in vars(module_globals) if n.startswith("_global_") and n.endswith("hooks")]


def _resolve(module_path: str, attribute: str):
    try:
        return getattr(importlib.import_module(module_path), attribute)
    except (ImportError, AttributeError):
        return None


def _methods(cls: type) -> list[types.FunctionType]:
    """The functions a class defines that run on the forward path (not construction or repr)."""
    skip = ("reset_parameters", "extra_repr", "__init__", "__setstate__", "__repr__")
    return [
        f
        for name, f in vars(cls).items()
        if isinstance(f, types.FunctionType) and not name.endswith(skip)
    ]


def _kws_model_classes() -> dict[type, str]:
    """Every nn.Module class defined in kws.models (imported now, before student code)."""
    try:
        package = importlib.import_module("kws.models")
    except ImportError:
        return {}
    found = {}
    for info in pkgutil.iter_modules(package.__path__, "kws.models."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # a broken kit module must not stop grading; its classes stay unknown
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, nn.Module):
                if value.__module__.startswith("kws.models"):
                    found[value] = f"kws.models.{value.__name__}"
    return found


def _spec_forbidden_classes() -> dict[type, str]:
    """The kit classes the course's tasks forbid (``rules.forbidden`` of each spec, checked
    when it was read), by the name the spec gives them; a spec that cannot be read forbids
    nothing here (its own commands say why)."""
    from kws.spec import SpecError, assignments

    found = {}
    registry = assignments()
    for name in registry:
        try:
            tasks = registry[name].tasks.values()
        except SpecError:
            continue
        for entry in (e for task in tasks for e in task.rules.get("forbidden", [])):
            module, _, attribute = entry.rpartition(".")
            cls = _resolve(module, attribute)
            if isinstance(cls, type):
                found[cls] = entry
    return found


@dataclass
class Originals:
    """Genuine objects captured before student code ran, and what was derived from them."""

    checks: list[tuple[str, object, object]]  # (label, getter, original)
    forbidden_classes: dict[type, str]
    forbidden_codes: dict[types.CodeType, str]
    forbidden_builtins: dict[int, str]  # id() of forbidden C functions
    norm_classes: tuple[type, ...]
    norm_functions: set[int]
    linear_function: object
    setprofile: object
    getprofile: object
    register_pre_hook: object
    register_hook: object
    hooks_at_capture: dict[str, int]
    stdlib: object = None  # a kws.tracing.guard.Snapshot in the grading child, else None


_originals: Originals | None = None


def capture_originals(stdlib: bool = False) -> Originals:
    """Remember the genuine torch objects; call before any student code runs in this process.

    With `stdlib`, also snapshot the standard library, threads and hooks
    (`kws.tracing.guard`); the grading child does, a student's own notebook (`kws.check`) does
    not need to.
    """
    global _originals
    checks: list[tuple[str, object, object]] = []

    def watch(label, getter):
        checks.append((label, getter, getter()))

    module_cls = nn.Module
    for name in ["__call__", "_call_impl", "_wrapped_call_impl", "__getattr__"]:
        watch(f"torch.nn.Module.{name}", lambda n=name: vars(module_cls).get(n))
    forbidden_classes: dict[type, str] = {}
    for path, attr, public in FORBIDDEN_CLASSES + [(p, a, "") for p, a in WATCHED_CLASSES]:
        cls = _resolve(path, attr)
        if cls is None:
            continue
        label = f"{path}.{attr}"
        watch(label, lambda p=path, a=attr: _resolve(p, a))
        for dunder in ["__name__", "__qualname__", "__module__", "__mro__"]:
            watch(f"{label}.{dunder}", lambda c=cls, d=dunder: getattr(c, d, None))
        for function in _methods(cls):
            name = function.__name__
            watch(f"{label}.{name}", lambda c=cls, n=name: vars(c).get(n))
            watch(f"{label}.{name}.__code__", lambda f=function: f.__code__)
        if public:
            forbidden_classes[cls] = public
    forbidden_classes.update(_kws_model_classes())
    forbidden_classes.update(_spec_forbidden_classes())
    for path, attr in [(p, a) for p, a, _ in FORBIDDEN_FUNCTIONS] + NORM_FUNCTIONS:
        function = _resolve(path, attr)
        if function is not None:
            watch(f"{path}.{attr}", lambda p=path, a=attr: _resolve(p, a))
            if isinstance(function, types.FunctionType):
                watch(f"{path}.{attr}.__code__", lambda f=function: f.__code__)
    watch("torch.nn.functional.linear", lambda: F.linear)
    for name in ["register_module_forward_pre_hook", "register_module_forward_hook"]:
        watch(f"torch.nn.modules.module.{name}", lambda n=name: getattr(module_globals, n))
    watch("torch.overrides.TorchFunctionMode", lambda: torch.overrides.TorchFunctionMode)
    watch("sys.setprofile", lambda: sys.setprofile)
    watch("sys.getprofile", lambda: sys.getprofile)
    for module_name in grader_modules():  # the probes themselves: a notebook could patch them too
        module = importlib.import_module(module_name)
        for name, function in vars(module).items():
            if isinstance(function, types.FunctionType) and function.__module__ == module_name:
                watch(f"{module_name}.{name}", lambda m=module, n=name: vars(m).get(n))
                watch(f"{module_name}.{name}.__code__", lambda f=function: f.__code__)
            elif isinstance(function, type) and function.__module__ == module_name:
                for attr, member in vars(function).items():  # e.g. ResultChannel.send
                    if isinstance(member, types.FunctionType | classmethod | staticmethod):
                        watch(
                            f"{module_name}.{name}.{attr}",
                            lambda c=function, a=attr: vars(c).get(a),
                        )

    forbidden_codes = {
        function.__code__: public
        for cls, public in forbidden_classes.items()
        for function in _methods(cls)
    }
    forbidden_builtins = {}
    for path, attr, public in FORBIDDEN_FUNCTIONS:
        function = _resolve(path, attr)
        if isinstance(function, types.FunctionType):
            forbidden_codes[function.__code__] = public
        elif function is not None:
            forbidden_builtins[id(function)] = public
    _originals = Originals(
        checks=checks,
        forbidden_classes=forbidden_classes,
        forbidden_codes=forbidden_codes,
        forbidden_builtins=forbidden_builtins,
        norm_classes=(nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm),
        norm_functions={id(f) for f in (_resolve(p, a) for p, a in NORM_FUNCTIONS) if f},
        linear_function=F.linear,
        setprofile=sys.setprofile,
        getprofile=sys.getprofile,
        register_pre_hook=module_globals.register_module_forward_pre_hook,
        register_hook=module_globals.register_module_forward_hook,
        hooks_at_capture={name: len(getattr(module_globals, name)) for name in HOOK_DICTS},
        stdlib=_stdlib_snapshot() if stdlib else None,
    )
    return _originals


def _stdlib_snapshot():
    from kws.tracing import guard

    return guard.snapshot()


def originals() -> Originals:
    """The captured originals (captured now if `capture_originals` was never called)."""
    return _originals if _originals is not None else capture_originals()


def verify_untampered(profiler: object = None) -> list[str]:
    """One sentence for every genuine object replaced since `capture_originals`; [] if none.

    `profiler` is the grader's own profile function when called while tracing.
    """
    found = []
    for label, getter, original in originals().checks:
        try:
            current = getter()
        except Exception:  # a getter that fails means the object was removed or broken
            current = None
        if current is not original:
            found.append(f"{label} was replaced or changed by the notebook")
    for name, count in originals().hooks_at_capture.items():
        if len(getattr(module_globals, name)) > count:
            found.append(f"the notebook registered global module hooks ({name})")
    if torch._C._len_torch_function_stack() > 0:
        found.append("the notebook left a TorchFunctionMode active")
    if originals().stdlib is not None:
        from kws.tracing import guard

        found += guard.changes(originals().stdlib, profiler_allowed=profiler)
    elif originals().getprofile() not in (None, profiler):
        found.append("the notebook installed a profiler function (sys.setprofile)")
    return list(dict.fromkeys(found))


_serials = itertools.count(1)


def tensor_key(t: torch.Tensor) -> tuple[int, int]:
    """Identity of a tensor's value: (serial number, in-place version).

    Each tensor gets a serial number the first time it is seen, kept in its own attributes, so
    the trace need not keep tensors alive (an id() could be reused once a tensor is freed).
    """
    serial = getattr(t, "_kws_serial", None)
    if serial is None:
        serial = next(_serials)
        try:
            t._kws_serial = serial
        except (AttributeError, RuntimeError):  # a tensor type without attributes
            serial = -id(t)
    try:
        return serial, t._version
    except RuntimeError:  # inference tensors have no version counter
        return serial, -1


def tensors_in(value) -> list[torch.Tensor]:
    """The tensors in a call's arguments or result, in the order they are passed (nested lists,
    tuples and dicts included)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []


@dataclass
class Op:
    """One executed step: a torch function call or a module call."""

    name: str  # "linear", "view", or the module's class name
    target: object  # the function, or the module
    inputs: list[tuple[int, int]]  # tensor keys of the inputs, in argument order
    module: str  # qualified name of the innermost module running (or of the module itself)


@dataclass
class Trace:
    """Everything one traced forward pass executed."""

    output: object = None
    module_calls: list[tuple[str, nn.Module]] = field(default_factory=list)
    code_calls: collections.Counter = field(default_factory=collections.Counter)
    producers: dict[tuple[int, int], Op] = field(default_factory=dict)
    forbidden: dict[str, str] = field(default_factory=dict)  # public name -> where first seen
    tampering: list[str] = field(default_factory=list)
    depth: dict[tuple[int, int], int] = field(default_factory=dict)  # attention depth per tensor
    attention: list[tuple[str, int]] = field(default_factory=list)  # (module, depth) each
    # [score elements per example, keys] of each attention computation (`attention_size`)
    attention_sizes: list[list[int]] = field(default_factory=list)

    def producer(self, t: torch.Tensor) -> Op | None:
        return self.producers.get(tensor_key(t))

    @property
    def attention_layers(self) -> int:
        """The longest chain of attention computations, each fed by the one before: the number
        of encoder layers that ran one after another (0 when no attention ran)."""
        return max((depth for _, depth in self.attention), default=0)


def is_attention(name: str, result, batch: int) -> bool:
    """Whether torch function `name` returning `result` computed attention.

    A fused attention call, or a softmax whose output ends in a square (T, T) score matrix with
    T > 1: (B, H, T, T), (B·H, T, T), or (T, T) for one utterance. A 2-D (B, T) softmax over
    frames (attention pooling) is not one, even when B happens to equal T.
    """
    if name in FUSED_ATTENTION:
        return True
    if name not in SOFTMAX_FUNCTIONS or not isinstance(result, torch.Tensor):
        return False
    shape = result.shape
    if result.ndim < 2 or shape[-1] != shape[-2] or shape[-1] < 2:
        return False
    return result.ndim >= 3 or shape[0] != batch


def attention_size(name: str, args: tuple, kwargs: dict, result, batch: int) -> list[int]:
    """[score elements per example, keys] of one attention computation: H x N x N and N for
    self-attention over N tokens with H heads, whatever computed it (a softmax over (B, H, N, N)
    or (B·H, N, N), a fused call whose query is (B, H, N, hs), or torch's multi-head attention
    with `num_heads`). [0, 0] when the shapes cannot be read."""
    try:
        if name in SOFTMAX_FUNCTIONS:
            return [result.numel() // max(batch, 1), int(result.shape[-1])]
        query, key = args[0], args[1]
        if "multi_head_attention" in name:
            heads = int(kwargs.get("num_heads", kwargs.get("num_head", args[4])))
            if name.startswith("_native"):  # batch-first (B, L, E)
                return [heads * query.shape[-2] * key.shape[-2], int(key.shape[-2])]
            return [heads * query.shape[0] * key.shape[0], int(key.shape[0])]  # (L, B, E)
        return [query[..., 0].numel() * key.shape[-2] // max(batch, 1), int(key.shape[-2])]
    except (IndexError, AttributeError, TypeError, ValueError):
        return [0, 0]


class _Recorder(TorchFunctionMode):
    """Records every torch function call: its name, input tensors and the tensors it produced."""

    def __init__(self, trace: Trace, where, batch: int):
        super().__init__()
        self.trace, self.where, self.batch = trace, where, batch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = tensors_in(args) + tensors_in(kwargs)
        before = [tensor_key(t) for t in inputs]
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", type(func).__name__)
        forbidden = originals().forbidden_builtins.get(id(func))
        if forbidden:
            self.trace.forbidden.setdefault(forbidden, f"called in {self.where()}")
        op = Op(name=name, target=func, inputs=before, module=self.where())
        changed = [
            t for t, key in zip(inputs, before, strict=True) if tensor_key(t) != key
        ]  # in-place ops
        depth = max((self.trace.depth.get(key, 0) for key in before), default=0)
        if is_attention(name, result, self.batch):
            depth += 1
            self.trace.attention.append((self.where(), depth))
            self.trace.attention_sizes.append(
                attention_size(name, args, kwargs, result, self.batch)
            )
        for t in tensors_in(result) + changed:
            key = tensor_key(t)
            self.trace.producers.setdefault(key, op)
            self.trace.depth[key] = max(self.trace.depth.get(key, 0), depth)
        return result


def trace_forward(model: nn.Module, example_inputs: torch.Tensor | tuple) -> Trace:
    """Run `model` once on `example_inputs`, in eval mode without gradients, recording every
    operation: which layers ran, which tensor each op read and wrote, where attention ran.

    Exceptions from the model propagate; the observers are always removed.

    Args:
        model: the student's model.
        example_inputs: a tensor, or a tuple of positional arguments (``(x, lengths)``).

    Returns:
        The `Trace`: among its fields ``output`` (what the model returned), ``attention_sizes``
        ([score elements per example, keys] of each attention computation that ran) and
        ``attention_layers``; the probes read it (`kws.tracing.probes.probe_facts`).

    Example:
        ```python
        traced = trace_forward(model, (x, lengths))
        tokens = max(keys for _, keys in traced.attention_sizes)
        ```
    """
    found = originals()
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    trace = Trace(tampering=verify_untampered())
    first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
    batch = int(first.shape[0]) if first is not None and first.ndim else 1
    names: dict[int, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), name or "model")
    stack: list[nn.Module] = []  # the modules running now, outermost first
    stack_inputs: list[list[tuple[int, int]]] = []  # their input tensor keys

    def where() -> str:
        return names.get(id(stack[-1]), type(stack[-1]).__name__) if stack else "model"

    def pre_hook(module, args):
        stack.append(module)
        stack_inputs.append([tensor_key(t) for t in tensors_in(args)])
        trace.module_calls.append((where(), module))
        for cls in type(module).__mro__:
            if cls in found.forbidden_classes:
                trace.forbidden.setdefault(found.forbidden_classes[cls], f"module {where()}")
        library = forbidden_package_class(type(module))
        if library:
            trace.forbidden.setdefault(library, f"module {where()}")

    def post_hook(module, args, output):
        op = Op(type(module).__name__, module, [], where())
        if stack and stack[-1] is module:
            stack.pop()
            op.inputs = stack_inputs.pop()
        depth = max((trace.depth.get(key, 0) for key in op.inputs), default=0)
        for t in tensors_in(output):  # only new if no torch function inside produced it
            trace.producers.setdefault(tensor_key(t), op)
            trace.depth.setdefault(tensor_key(t), depth)

    def profiler(frame, event, arg):
        if event == "call":
            trace.code_calls[frame.f_code] += 1
            public = found.forbidden_codes.get(frame.f_code)
            if public:
                trace.forbidden.setdefault(public, f"its code ran inside {where()}")
        elif event == "c_call" and id(arg) in found.forbidden_builtins:
            trace.forbidden.setdefault(found.forbidden_builtins[id(arg)], f"called in {where()}")

    handles = [found.register_pre_hook(pre_hook), found.register_hook(post_hook)]
    was_training, previous_profiler = model.training, found.getprofile()
    model.eval()
    try:
        with torch.no_grad(), _Recorder(trace, where, batch):
            found.setprofile(profiler)
            try:
                trace.output = model(*inputs)
            finally:
                if found.getprofile() is not profiler:
                    trace.tampering.append("the forward pass switched off the profiler")
                found.setprofile(previous_profiler)
        for handle in handles:
            hooks = handle.hooks_dict_ref()
            if hooks is None or handle.id not in hooks:
                trace.tampering.append("the forward pass removed the grader's module hooks")
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    for name in HOOK_DICTS:
        if len(getattr(module_globals, name)) > found.hooks_at_capture[name]:
            trace.tampering.append(f"the notebook registered global module hooks ({name})")
    trace.tampering = list(dict.fromkeys(trace.tampering))
    return trace
