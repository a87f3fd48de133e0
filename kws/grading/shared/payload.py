"""The grading child's payload: its stages, its numeric components, and the check of its shape.

The child (`kws.grading.child.runner`) writes the payload; the parent (`kws.grading.grade`,
grader/test_02_numeric.py) validates and reads it. Both import this module, so the parent knows
what a payload may hold without importing any of the child's code.
"""

from dataclasses import dataclass

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


@dataclass(frozen=True)
class NumericComponent:
    """One graded numeric comparison of a notebook: its task and the name the skeleton fixes."""

    task: str
    name: str  # the class (or function) the notebook defines


# Keys of the payload's "numeric" facts (`kws.grading.child.numeric` runs one check per key).
NUMERIC_COMPONENTS = {
    "attention": NumericComponent("task1", "MultiHeadSelfAttention"),
    "encoder_layer_post_norm": NumericComponent("task1", "EncoderLayer"),
    "encoder_layer_pre_norm": NumericComponent("task1", "EncoderLayer"),
    "encoder": NumericComponent("task1", "Encoder"),
    "conformer_block": NumericComponent("task2", "ConformerBlock"),
    "attention_pooling": NumericComponent("task3", "SelfAttentionPooling"),
    "am_softmax_head": NumericComponent("task3", "AMSoftmaxHead"),
    "am_softmax_loss": NumericComponent("task3", "am_softmax_loss"),
    # notebook 01 (keyword_spotting): Task 1's functions, Task 2's token lengths, Task 3's forward,
    "twelve_class_labels": NumericComponent("data", "twelve_class_labels"),
    "silence_windows": NumericComponent("data", "silence_windows"),
    "conv_tokenizer": NumericComponent("tokens", "ConvTokenizer"),
    "keyword_transformer": NumericComponent("kws", "KeywordTransformer"),
    # Task 4: the recipe cell's schedule over the steps the task's history.json recorded
    "learning_rate_factor": NumericComponent("kws", "learning_rate_factor"),
}


def check_facts(facts) -> None:
    """Raise ValueError unless `facts` has the shape the child's numeric checks return:

    ``{component: {"items": [[topic, passed, what, fix], ...], "todo": str | None}}``.
    """
    if not isinstance(facts, dict) or set(facts) - set(NUMERIC_COMPONENTS):
        raise ValueError("payload numeric facts are not keyed by component")
    for key, value in facts.items():
        if not isinstance(value, dict) or set(value) != {"items", "todo"}:
            raise ValueError(f"payload numeric facts of {key} have unexpected keys")
        if not isinstance(value["todo"], str | None) or not isinstance(value["items"], list):
            raise ValueError(f"payload numeric facts of {key} are malformed")
        for item in value["items"]:
            kinds = [type(x) for x in item] if isinstance(item, list) else []
            if kinds != [str, bool, str, str]:
                raise ValueError(f"payload numeric facts of {key} hold a malformed item")


def check_payload(payload: dict, tasks: list[str], num_inputs: int, n_classes: int) -> None:
    """Raise ValueError unless `payload` has the structure the runner writes (values are JSON)."""
    if set(payload) != {"notebook", "errors", "tasks", "tampering", "numeric"}:
        raise ValueError("payload keys differ from the runner's")
    check_facts(payload["numeric"])
    if not isinstance(payload["errors"], dict) or set(payload["errors"]) - set(STAGES):
        raise ValueError("payload errors are not keyed by stage")
    if not isinstance(payload["tasks"], dict) or set(payload["tasks"]) - set(tasks):
        raise ValueError("payload tasks differ from the ones asked for")
    for task, report in payload["tasks"].items():
        if set(report) != {"class", "predictions", "facts", "errors", "seconds"}:
            raise ValueError(f"payload task {task} has unexpected keys")
        predictions = report["predictions"]
        if predictions is not None and (
            len(predictions) != num_inputs
            or not all(type(p) is int and 0 <= p < n_classes for p in predictions)
        ):
            raise ValueError(f"payload task {task}: predictions are not {num_inputs} class indices")
        if not isinstance(report["errors"], dict) or set(report["errors"]) - set(STAGES):
            raise ValueError(f"payload task {task}: errors are not keyed by stage")
