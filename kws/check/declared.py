"""The self-check of what a spec declares (`check_assignment`, reached in a notebook as
``check.assignment("conv_module")``): the cell ``kws assign`` puts after an assignment's model
cells. It runs each task's numeric checks on the notebook's functions and classes (the
components of the folder's ``checks.py``, as the grading child runs them), then builds each
model task's class and judges its rules and limits on one traced forward pass, with the judges
the graded tests call (`kws.spec.rules`) on the facts the grading child measures
(`kws.tracing.probes.probe_facts`): the notebook and the grader cannot disagree.

The model judged is the one the notebook trains: built as the grader builds it when the notebook
has written its task's ``OUT_DIR/<task>/config.json`` (so ``num_layers=6`` there fails here
too), else from the notebook's ``CONFIG`` (the constructor's arguments it trains with and saves
as config.json's ``kwargs``; or a whole config.json naming the class), else the notebook's own
instance of the class when there is one (``model = ConvNet(...)`` run before the check), else
with the constructor's defaults, which its first line says; a constructor that needs arguments
and has none of these leaves its rules to the Ready to hand in? cell (a "–" line: not run here),
which checks the trained model as the grader does.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import torch
from torch import nn

from kws.check.registry import run_task_checks
from kws.check.selfcheck import Checker, CheckResult, call, run_model, shape_text
from kws.counts import format_count
from kws.i18n import N_, Text
from kws.spec import Spec, assignment
from kws.spec.rules import judge_layers, judge_own_work, judge_size
from kws.tracing.probes import encoder_params, model_params, probe_facts


def example_inputs(spec: Spec) -> tuple[torch.Tensor, ...] | None:
    """A small batch as the grading child feeds the model, by the spec's data layout: two HW4
    utterances (B=2, T=60, 40 mels, the second padded with -20 after 49 frames) and their
    lengths, or two one-second waveforms (B=2, 16000); None for a layout of the folder's own."""
    layout = spec.data.get("layout")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if layout == "hw4":
            x = torch.randn(2, 60, 40)  # (B, T, n_mels)
            x[1, 49:] = -20.0  # the padding value of HW4 batches
            return x, torch.tensor([60, 49])
        if layout == "speech_commands":
            return (0.1 * torch.randn(2, 16000),)  # (B, S): one second at 16 kHz
    return None


CONFIG_NAME = "CONFIG"  # the notebook's constructor arguments, as its config.json saves them


def _configured(cls: type, ns: dict, task: str) -> tuple[dict, str] | None:
    """The arguments the notebook builds `cls` with, and where they were found: its task's
    ``OUT_DIR/<task>/config.json`` (what the grader builds the model with), else its
    ``CONFIG`` (what it will train and save): keyword arguments of the class, or a config.json
    naming it (``{"task", "class", "kwargs"}``); None when the notebook has neither yet."""
    out = ns.get("OUT_DIR")
    path = Path(out) / task / "config.json" if isinstance(out, str | Path) else None
    if path is not None and path.is_file():
        try:
            saved = _kwargs_of(cls, json.loads(path.read_text()))
        except (OSError, ValueError):
            saved = None
        if saved is not None:
            return saved, str(path)
    config = ns.get(CONFIG_NAME)
    kwargs = _kwargs_of(cls, config) if isinstance(config, dict) else None
    if kwargs is None and isinstance(config, dict) and config.get("class") is None:
        kwargs = _arguments_of(cls, config)
    return (kwargs, CONFIG_NAME) if kwargs is not None else None


def _kwargs_of(cls: type, config: object) -> dict | None:
    """The ``kwargs`` of a config.json-shaped `config` that names `cls`, else None."""
    if not isinstance(config, dict) or config.get("class") != cls.__name__:
        return None
    kwargs = config.get("kwargs")
    return kwargs if isinstance(kwargs, dict) else None


def _arguments_of(cls: type, config: dict) -> dict | None:
    """`config` when its keys are arguments of `cls`'s constructor (a dict of other settings,
    a learning rate and steps, is not the model's), else None."""
    try:
        inspect.signature(cls).bind_partial(**config)
    except (TypeError, ValueError):
        return None
    return config if all(isinstance(key, str) for key in config) else None


def _instance(cls: type, ns: dict, task: str = "") -> nn.Module | None:
    """`cls` built as the notebook's config.json of `task` or its ``CONFIG`` says
    (`_configured`: as the grader builds it), else the notebook's own instance of `cls` (the
    last one defined), else one built with the constructor's defaults, else None."""
    configured = _configured(cls, ns, task) if task else None
    if configured is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return cls(**configured[0])
    found = [value for value in ns.values() if isinstance(value, cls)]
    if found:
        return found[-1]
    needed = [
        p
        for p in inspect.signature(cls).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if needed:
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return cls()


def _model_items(checker: Checker, spec: Spec, task: str, ns: dict) -> None:
    """The items of one model task: it builds, runs, and keeps its rules and limits."""
    rules, limits = spec.tasks[task].rules, spec.tasks[task].limits
    name = spec.tasks[task].model_class
    cls = ns.get(name)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        checker.stop(
            Text(N_("the notebook defines {name}"), name=name),
            Text(N_("keep the skeleton's class {name}"), name=name),
        )
    configured = _configured(cls, ns, task)
    own = any(isinstance(value, cls) for value in ns.values())
    if configured:
        builds = Text(N_("{name} builds as {file} says"), name=name, file=configured[1])
    elif own:
        builds = Text(N_("{name} builds (the notebook's own instance)"), name=name)
    else:
        said = N_("{name} builds with its constructor's defaults (no {file} yet)")
        builds = Text(said, name=name, file=CONFIG_NAME)
    model = call(checker, builds, lambda: _instance(cls, ns, task))
    if model is not None:  # which model is judged: the one the notebook trains, or why not
        checker.expect(True, builds, "")
    inputs = example_inputs(spec)
    if model is None or inputs is None:
        why = (
            N_("its constructor needs arguments")
            if model is None
            else N_("its data is the course's own")
        )
        later = N_("{name}'s rules are checked by the Ready to hand in? cell ({why})")
        checker.later(Text(later, name=name, why=Text(why)))
        return
    output = run_model(checker, model, inputs, Text(N_("{name} forward runs"), name=name))
    checker.expect(
        output.dim() == 2 and output.shape[0] == 2,
        Text(N_("{name} returns scores of shape {shape}"), name=name, shape=shape_text(output)),
        N_("return one row of class scores per input: (B, n_classes)"),
    )
    exact = output.device.type == "cpu"
    facts = call(
        checker,
        Text(N_("{name} forward runs traced"), name=name),
        lambda: probe_facts(task, model, ns, [(inputs, output)], exact, rules=rules),
    )
    if "max_layer_calls" in limits:
        passed, what, fix = judge_layers(facts["layer_calls"], int(limits["max_layer_calls"]))
        checker.expect(passed, what, fix)
    if "max_parameters" in limits:
        count = model_params(model)
        checker.expect(*judge_size(count, limits["max_parameters"], format_count(count), name))
    if "max_encoder_params" in limits and hasattr(model, "encoder"):
        count = encoder_params(model)
        text = format_count(count)
        limit = limits["max_encoder_params"]
        judged = judge_size(count, limit, text, N_("its encoder"), below=True)
        checker.expect(*judged)
    if any(rules.get(key) for key in ("from_scratch", "layer_class", "own_classes", "forbidden")):
        problems = judge_own_work(facts, rules)
        checker.expect(
            not problems,
            N_("written in the notebook, as the task asks"),
            Text.joined("; ", problems),
        )
    if facts["norm_before_classifier"] is not None:
        passed, why = facts["norm_before_classifier"]
        checker.expect(passed, N_("a normalization feeds the final Linear classifier"), why)
    if facts["traced_mismatch"]:
        checker.expect(
            False,
            N_("forward computes the same traced as untraced"),
            Text(
                N_("{mismatch}; make forward compute the same thing every time"),
                mismatch=facts["traced_mismatch"],
            ),
        )


def check_assignment(
    name: str, *, ns: dict | None = None, tasks: list[str] | None = None, strict: bool = False
) -> CheckResult:
    """Check a notebook's work on assignment `name` as its graded tests judge it: the numeric
    checks of its tasks, then each model task's rules and limits (see the module).

    Args:
        name: the assignment (``spec.toml``'s name).
        ns: the notebook's namespace (default: the running notebook's, ``__main__``).
        tasks: the tasks to check (default: every task of the spec).
        strict: raise AssertionError when a check failed.

    Returns:
        The `CheckResult`, falsy when a check failed.

    Example:
        ```python
        from kws import check

        check.assignment("conv_module")  # in a notebook, after its model cells
        ```
    """
    spec = assignment(name)
    ns = ns if ns is not None else vars(sys.modules["__main__"])
    checker = Checker(f"{spec.name}")
    for task in tasks or list(spec.tasks):
        if spec.checks_file.is_file():
            with checker.run():
                run_task_checks(checker, spec, task, ns)
        if spec.tasks[task].model_class:
            with checker.run():
                _model_items(checker, spec, task, ns)
    return checker.finish(strict)
