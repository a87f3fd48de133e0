"""What a spec declares, as graded tests: the tests the kit writes for an assignment's rules and
limits (`declared`), and the judges that decide them (`judge_layers`, `judge_size`,
`judge_own_work`), which the notebook's self-check (`kws.check.declared`) and the grader's
tests (`kws.grading.judge.declared`) both call on the same facts (`kws.tracing.probes.probe_facts`).

A task of ``spec.toml`` declares, and the kit grades without the author writing a test:

| in ``[tasks.<task>]`` | the graded test |
|---|---|
| ``class = "Name"`` | ``test_model_loads``: the class builds from config.json and loads model.pt |
| ``target = "tier"`` | ``test_accuracy``: accuracy on the hidden test set, partial credit by tier |
| ``limits.max_layer_calls`` | ``test_<task>_layers_that_run``: 1 to that many layers run in forward |
| ``limits.max_parameters`` | ``test_<task>_parameters``: model.pt holds at most that many weights |
| ``limits.max_encoder_params`` | ``test_<task>_encoder_parameters``: ``.encoder`` under that many |
| ``rules.norm_before_classifier`` | ``test_<task>_norm_before_classifier`` |
| ``rules.from_scratch``, ``layer_class``, ``own_classes``, ``forbidden`` | ``test_<task>_written_from_scratch`` |

and ``[accuracy] source = "predictions.csv"`` adds ``test_predictions_csv``. Each needs its
points in ``[points]``, like any graded test. Pure Python: the grader's process imports it
without torch, and so does ``kws assign``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kws.i18n import N_, Text
from kws.spec.model import Spec


@dataclass(frozen=True)
class DeclaredTest:
    """One graded test a spec declares.

    Attributes:
        name: the test function's name (its points are ``[points]`` of that name).
        kind: what it judges: ``loads``, ``accuracy``, ``predictions_csv`` (one test per model
            task, parametrized), ``layers``, ``parameters``, ``encoder_parameters``,
            ``from_scratch``, ``norm`` (one task's).
        tasks: the tasks it grades.
        title: what students read: a `Text`, its English the title.
        source: the spec's key that declares it, for messages (``tasks.task1.limits``).
    """

    name: str
    kind: str
    tasks: tuple[str, ...]
    title: str
    source: str


def _count(limit: float) -> str:
    return f"{limit / 1000:g}k" if limit >= 10_000 else f"{limit:g}"


def declared(spec: Spec) -> list[DeclaredTest]:
    """The graded tests `spec` declares, in the order the grader runs them (see the module); each
    title a `Text` (its English is the title; the grader shows it in the course's language)."""
    models = tuple(spec.model_tasks)
    tests = []
    if models:
        title = Text(N_("Model builds from config.json and loads model.pt"))
        tests.append(DeclaredTest("test_model_loads", "loads", models, title,
                                  "tasks.<task>.class"))  # fmt: skip
    for name, task in spec.tasks.items():
        if task.model_class is None:
            continue
        # the task's own label ("Task 1"), the course's words: shown as written
        label = task.title.split(":")[0] if ":" in task.title else name
        limits, rules, where = task.limits, task.rules, f"tasks.{name}"
        if "max_layer_calls" in limits:
            limit = int(limits["max_layer_calls"])
            title = Text(N_("{label}: 1 to {limit} layers run in forward"), label=label,
                         limit=limit)  # fmt: skip
            tests.append(DeclaredTest(f"test_{name}_layers_that_run", "layers", (name,), title,
                                      f"{where}.limits.max_layer_calls"))  # fmt: skip
        if "max_parameters" in limits:
            said = N_("{label}: the model holds at most {count} weights (counted in model.pt)")
            title = Text(said, label=label, count=_count(limits["max_parameters"]))
            tests.append(DeclaredTest(f"test_{name}_parameters", "parameters", (name,), title,
                                      f"{where}.limits.max_parameters"))  # fmt: skip
        if "max_encoder_params" in limits:
            said = N_("{label}: the encoder block has fewer than {count} parameters")
            title = Text(said, label=label, count=_count(limits["max_encoder_params"]))
            tests.append(DeclaredTest(f"test_{name}_encoder_parameters", "encoder_parameters",
                                      (name,), title, f"{where}.limits.max_encoder_params"))  # fmt: skip
        own = [rules[k] for k in ("layer_class",) if k in rules] + list(
            rules.get("own_classes", [])
        )
        if rules.get("from_scratch") or own or rules.get("forbidden"):
            tests.append(DeclaredTest(f"test_{name}_written_from_scratch", "from_scratch",
                                      (name,), _from_scratch_title(label, own, rules),
                                      f"{where}.rules"))  # fmt: skip
        if rules.get("norm_before_classifier"):
            said = N_("{label}: a normalization feeds the classifier's final Linear")
            tests.append(DeclaredTest(f"test_{name}_norm_before_classifier", "norm", (name,),
                                      Text(said, label=label),
                                      f"{where}.rules.norm_before_classifier"))  # fmt: skip
    targets = tuple(name for name in models if spec.tasks[name].target)
    if targets:
        title = Text(N_("Accuracy on the hidden test labels (partial credit by tier)"))
        tests.append(DeclaredTest("test_accuracy", "accuracy", targets, title,
                                  "tasks.<task>.target"))  # fmt: skip
    if models and spec.accuracy.from_csv:
        title = Text(N_("predictions.csv: Id,Category with one known class per test item"))
        tests.append(DeclaredTest("test_predictions_csv", "predictions_csv", models, title,
                                  "[accuracy] source"))  # fmt: skip
    return tests


def _from_scratch_title(label: str, own: list[str], rules: dict) -> Text:
    """The title of a task's ``test_<task>_written_from_scratch``: the classes it must write
    (`own`, else its own layers), then what may not run in forward (``from_scratch``'s library
    layers, each ``forbidden`` class)."""
    what = ", ".join(own) if own else Text(N_("your own layers"))
    library = Text(N_(", no library Transformer or attention layer"))
    kit = [Text(N_(", no {name}"), name=entry) for entry in rules.get("forbidden", [])]
    parts = [library] * bool(rules.get("from_scratch")) + kit
    said = N_("{label}: {what} written in the notebook{without} in forward")
    return Text(said, label=label, what=what, without=Text.joined("", parts))


def judge_layers(calls: int, limit: int) -> tuple[bool, str, str]:
    """(passed, what, fix) for `calls` layers that ran one after another in one forward (the
    probe fact ``layer_calls``: the longest chain of attention computations, each fed by the one
    before), against ``max_layer_calls`` `limit`: 1 to `limit` pass."""
    said = N_("{n} layers run one after another in one forward (counted by their attention)")
    what = Text(said, n=calls)
    if calls < 1:
        return (
            False,
            what,
            N_("call your layers in forward (layers defined but not called do not count)"),
        )
    if calls > limit:
        return False, what, Text(N_("the task allows 1 to {limit}: use fewer layers"), limit=limit)
    return True, what, ""


def judge_size(
    count: int, limit: float, text: str, what: str = N_("the model"), *, below: bool = False
) -> tuple[bool, str, str]:
    """(passed, what, fix) for `count` weights (shown as `text`, "154.88k") of `what` against
    `limit`: at most that many (``max_parameters``), or fewer with `below`
    (``max_encoder_params``)."""
    holds = (
        N_("{what} holds {text} weights (the limit: under {limit})")
        if below
        else N_("{what} holds {text} weights (the limit: at most {limit})")
    )
    said = Text(holds, what=Text(what), text=text, limit=_count(limit))
    if count < limit or (count == limit and not below):
        return True, said, ""
    return False, said, N_("use a smaller d_model, fewer layers or a smaller feed-forward size")


def judge_own_work(facts: dict, rules: dict) -> list[str]:
    """Why `facts` (`probe_facts`) break a task's from-scratch `rules`, one sentence each with
    its fix: a library layer that ran (``from_scratch``), a class of ``layer_class`` or
    ``own_classes`` that is not the notebook's own, a ``layer_class`` that never runs, a kit
    class of ``forbidden`` that ran."""
    problems = []
    ran = facts.get("forbidden") or []
    library = [entry for entry in ran if _from_scratch_covers(_class_of(entry))]
    if rules.get("from_scratch") and library:
        said = N_(
            "your model's forward runs {name}; the task asks you to write this layer yourself"
        )
        problems.append(Text(said, name=library[0]))
    named = [entry for entry in ran if _class_of(entry) in rules.get("forbidden", [])]
    if named:
        said = N_(
            "your model's forward uses {name}, which this task asks you to write; write your "
            "own class in the notebook"
        )
        problems.append(Text(said, name=named[0]))
    layer_class = rules.get("layer_class")
    if layer_class and facts.get("layer_class_problem"):
        problems.append(facts["layer_class_problem"])
    elif layer_class and not facts.get("layer_class_calls"):
        problems.append(Text(N_("your {name} never runs in forward; call it"), name=layer_class))
    found = facts.get("class_problems") or {}
    problems += [found[name] for name in rules.get("own_classes", []) if found.get(name)]
    return problems


def _class_of(entry: str) -> str:
    """The class of one of the tracer's ``forbidden`` entries, "name (where it ran)"."""
    return entry.split(" (", 1)[0]


def _from_scratch_covers(name: str) -> bool:
    """Whether ``from_scratch`` forbids the class `name` the tracer found: the library layers
    and the kit's models (``kws.models``), not the other kit classes a course's ``forbidden``
    rule names (the tracer watches those for the tasks that forbid them)."""
    return not name.startswith("kws.") or name.startswith("kws.models.")
