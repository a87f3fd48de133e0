"""The grading child's payload: its stages and the check of its shape, imported by both sides so
that the parent knows what a payload may hold without importing any of the child's code.
"""

# Where a child run can fail, in the order they happen; payload errors are keyed by these.
STAGES = (
    "notebook",
    "model_cells",
    "retrain",
    "config",
    "build",
    "checkpoint",
    "evaluate",
    "probes",
)


def check_facts(facts, tasks: list[str] | None = None) -> None:
    """Raise ValueError unless `facts` has the shape the child's numeric checks return:

    ``{component: {"task": str, "name": str, "items": [[topic, passed, what, fix, shown],
    ...], "todo": str | None}}`` (the components: the assignment's ``checks.py`` table), each of
    a task among `tasks` when they are given; `shown` is a JSON string, ``{"what": ..., "fix":
    ...}``, the two texts as `kws.i18n.portable` gives them (the grader shows them in the
    course's language), or "".
    """
    if not isinstance(facts, dict) or not all(isinstance(key, str) for key in facts):
        raise ValueError("payload numeric facts are not keyed by component")
    for key, value in facts.items():
        if not isinstance(value, dict) or set(value) != {"task", "name", "items", "todo"}:
            raise ValueError(f"payload numeric facts of {key} have unexpected keys")
        if not isinstance(value["task"], str) or not isinstance(value["name"], str):
            raise ValueError(f"payload numeric facts of {key} are malformed")
        if tasks is not None and value["task"] not in tasks:
            raise ValueError(f"payload numeric facts are not keyed by component ({key})")
        if not isinstance(value["todo"], str | None) or not isinstance(value["items"], list):
            raise ValueError(f"payload numeric facts of {key} are malformed")
        for item in value["items"]:
            kinds = [type(x) for x in item] if isinstance(item, list) else []
            if kinds != [str, bool, str, str, str]:
                raise ValueError(f"payload numeric facts of {key} hold a malformed item")


def _buffer_names(buffers) -> bool:
    """Whether `buffers` is None or what `kws.grading.child.buffers.compare_with_construction`
    returns: ``{"written": [name, ...], "constructed": [name, ...]}``."""
    if not isinstance(buffers, dict):
        return buffers is None
    lists = all(isinstance(names, list) for names in buffers.values())
    named = lists and all(isinstance(n, str) for names in buffers.values() for n in names)
    return set(buffers) == {"written", "constructed"} and named


def check_payload(
    payload: dict,
    tasks: list[str],
    num_inputs: int,
    n_classes: int,
    numeric_tasks: list[str] | None = None,
) -> None:
    """Raise ValueError unless `payload` has the structure the runner writes (values are JSON);
    `numeric_tasks`: the assignment's tasks, the only ones its numeric facts may belong to."""
    if set(payload) != {"notebook", "errors", "tasks", "tampering", "numeric"}:
        raise ValueError("payload keys differ from the runner's")
    check_facts(payload["numeric"], numeric_tasks)
    if not isinstance(payload["errors"], dict) or set(payload["errors"]) - set(STAGES):
        raise ValueError("payload errors are not keyed by stage")
    if not isinstance(payload["tasks"], dict) or set(payload["tasks"]) - set(tasks):
        raise ValueError("payload tasks differ from the ones asked for")

    def indices(values) -> bool:
        return isinstance(values, list) and all(
            type(c) is int and 0 <= c < n_classes for c in values
        )

    for task, report in payload["tasks"].items():
        if set(report) != {"class", "predictions", "near", "facts", "errors", "seconds", "buffers"}:
            raise ValueError(f"payload task {task} has unexpected keys")
        if not _buffer_names(report["buffers"]):
            raise ValueError(f"payload task {task}: buffers are not lists of names")
        predictions, near = report["predictions"], report["near"]
        if predictions is not None and (len(predictions) != num_inputs or not indices(predictions)):
            raise ValueError(f"payload task {task}: predictions are not {num_inputs} class indices")
        bad_near = predictions is None or not isinstance(near, list) or len(near) != num_inputs
        if near is not None and (bad_near or not all(map(indices, near))):
            raise ValueError(f"payload task {task}: near ties are not class indices per input")
        if not isinstance(report["errors"], dict) or set(report["errors"]) - set(STAGES):
            raise ValueError(f"payload task {task}: errors are not keyed by stage")
