"""The graded numeric checks of notebook 02 (`kws.grading.child.numeric.check_classes`), run the way
the grading child runs them: on the namespace of the notebook's model cells. Each buggy variant is
the reference notebook with one edit, and must fail only its own component, with a message naming
the bug."""

import json

import pytest

from kws.grading.child import numeric
from kws.grading.child.cells import run_model_cells
from kws.grading.protocol import payload
from kws.grading.sandbox.supervise import check_json
from kws.spec import ASSIGNMENTS

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "02_speaker_id.ipynb"
TASKS = ["task1", "task2", "task3"]
SPEAKER = ASSIGNMENTS["speaker_id"].checks().NUMERIC  # its folder's checks.py
KEYWORD = ASSIGNMENTS["keyword_spotting"].checks().NUMERIC


def _namespace(tmp_path, *edits: tuple[str, str]) -> dict:
    """The model cells of the reference notebook with each `old` replaced by `new` (once)."""
    import nbformat

    nb = nbformat.read(SOLUTION, as_version=4)
    for old, new in edits:
        cells = [c for c in nb.cells if old in c.source]
        assert len(cells) == 1 and cells[0].source.count(old) == 1, old
        cells[0].source = cells[0].source.replace(old, new)
    path = tmp_path / "02_speaker_id.ipynb"
    nbformat.write(nb, path)
    return run_model_cells(path)


def _failures(facts: dict) -> dict[str, list[str]]:
    """component -> the failed items as "topic: what — fix"."""
    failed = {}
    for key, value in facts.items():
        lines = [f"{topic}: {what} — {fix}" for topic, ok, what, fix, _ in value["items"] if not ok]
        if lines:
            failed[key] = lines
    return failed


def test_the_reference_passes_every_component_and_the_facts_are_json(tmp_path):
    facts = numeric.check_classes(_namespace(tmp_path), TASKS, SPEAKER)
    assert set(facts) == {k for k, c in SPEAKER.items() if c.task in TASKS}
    assert _failures(facts) == {}
    assert all(value["todo"] is None for value in facts.values())
    payload.check_facts(json.loads(json.dumps(facts)))  # what check_payload accepts
    check_json({"numeric": facts})  # as flat as the supervisor reads a child's payload
    topics = {key: {item[0] for item in value["items"]} for key, value in facts.items()}
    assert topics["attention"] == {"build", "outputs", "padding"}
    assert topics["am_softmax_loss"] == {"outputs"}


def test_only_the_asked_tasks_are_checked(tmp_path):
    facts = numeric.check_classes(_namespace(tmp_path), ["task2"], SPEAKER)
    assert list(facts) == ["conformer_block"]


SCALING = ("/ math.sqrt(self.head_dim)", "/ math.sqrt(D)")
POST_NORM_ONLY = ("        if self.norm_first:\n", "        if False:\n")
MARGIN_EVERYWHERE = ("F.one_hot(labels, cosines.shape[1]).to(cosines.dtype) * margin", "margin")
HEAD_SPLIT = (
    "        q = q.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
    "        k = k.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n"
    "        v = v.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)\n",
    "        q, k, v = (t.reshape(B, self.nhead, T, self.head_dim) for t in (q, k, v))\n",
)


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            [SCALING],
            {
                "attention": "outputs: outputs match torch.nn.MultiheadAttention (no "
                "padding) — the scores are divided by sqrt(D); divide by sqrt(head_dim)"
            },
        ),
        (
            [("/ math.sqrt(self.head_dim)", "")],
            {"attention": "the scores are not divided by sqrt(head_dim)"},
        ),
        (
            [
                (
                    "weights = self.dropout(scores.softmax(dim=-1))",
                    "weights = scores.softmax(dim=-2)",
                )
            ],
            {"attention": "the softmax runs over the queries; take it over the keys"},
        ),
        ([HEAD_SPLIT], {"attention": "the heads are split with view(B, H, T, hs)"}),
        (
            [
                (
                    "            scores = scores.masked_fill(key_padding_mask[:, None, None, :], "
                    'float("-inf"))\n',
                    "            pass\n",
                )
            ],
            {
                "attention": "padding: padded frames do not change the valid outputs — mask padded "
                "keys"
            },
        ),
        (
            [POST_NORM_ONLY],
            {
                "encoder_layer_pre_norm": "outputs match torch.nn.TransformerEncoderLayer("
                "norm_first=True) (no padding) — with norm_first=True it normalizes after the "
                "residual; pre-norm"
            },
        ),
        (
            [("            x = layer(x, key_padding_mask)", "            x = layer(x)")],
            {
                "encoder": "padding: padded frames do not change the valid outputs — pass "
                "key_padding_mask on to every layer"
            },
        ),
        (
            [
                (
                    "        if padding is not None:\n            h = h.masked_fill(padding[:, None, :], "
                    "0.0)\n",
                    "",
                )
            ],
            {"conformer_block": "zero padded frames before the depthwise convolution"},
        ),
        (
            [('        scores = scores.masked_fill(padding, float("-inf"))\n', "")],
            {"attention_pooling": "padding: padded frames do not change the pooled vector"},
        ),
        (
            [("return F.normalize(embedding, dim=-1) @", "return embedding @")],
            {"am_softmax_head": "the embeddings are not normalized"},
        ),
        (
            [MARGIN_EVERYWHERE],
            {"am_softmax_loss": "the margin is missing, or subtracted from every class"},
        ),
        (
            [
                (
                    "return F.cross_entropy(scale * (cosines - margins), labels)",
                    "return F.cross_entropy(scale * cosines - margins, labels)",
                )
            ],
            {"am_softmax_loss": "scale the margin too: scale * (cos - margin)"},
        ),
    ],
)
def test_each_bug_fails_its_own_component_and_names_itself(tmp_path, edits, expected):
    failed = _failures(numeric.check_classes(_namespace(tmp_path, *edits), TASKS, SPEAKER))
    assert set(failed) == set(expected), failed
    for key, phrase in expected.items():
        assert any(phrase in line for line in failed[key]), failed[key]


def test_a_wrong_attention_does_not_fail_the_layers_that_use_it(tmp_path):
    facts = numeric.check_classes(_namespace(tmp_path, SCALING), TASKS, SPEAKER)
    for key in ("encoder_layer_post_norm", "encoder_layer_pre_norm", "conformer_block"):
        whats = [what for _, _, what, _, _ in facts[key]["items"]]
        replaced = "inside, your MultiHeadSelfAttention is replaced by torch.nn.MultiheadAttention"
        assert any(what.startswith(replaced) for what in whats), whats


def test_the_fresh_assignment_reports_each_todo(tmp_path):
    ns = run_model_cells(ROOT / "assignments" / "02_speaker_id.ipynb")
    facts = numeric.check_classes(ns, TASKS, SPEAKER)
    todos = {key: value["todo"] for key, value in facts.items()}
    assert todos["attention"].startswith("TODO: project x to queries, keys and values")
    # torch's attention stands in for the unwritten one, so the layer's own TODO is reported
    assert todos["encoder_layer_pre_norm"].startswith("TODO: the attention block and the feed")
    assert todos["am_softmax_loss"].startswith("TODO: subtract the margin")
    assert all(value["items"][-1][1] is False for value in facts.values())


def test_a_missing_class_or_a_crash_in_the_constructor_is_a_failed_component(tmp_path):
    ns = _namespace(tmp_path)
    del ns["AMSoftmaxHead"]

    class Exploding(ns["SelfAttentionPooling"]):
        def __init__(self, d_model):
            raise SystemExit("bye")

    ns["SelfAttentionPooling"] = Exploding
    failed = _failures(numeric.check_classes(ns, ["task3"], SPEAKER))
    assert failed["am_softmax_head"] == [
        "build: the notebook defines AMSoftmaxHead — keep the skeleton's AMSoftmaxHead in its "
        "cell, and that cell's tags"
    ]
    assert "raised SystemExit: bye" in failed["attention_pooling"][0]


def test_malformed_facts_are_rejected():
    with pytest.raises(ValueError, match="keyed by component"):
        made_up = {"task": "task9", "name": "X", "items": [], "todo": None}
        payload.check_facts({"made_up": made_up}, ["task1"])
    with pytest.raises(ValueError, match="malformed item"):
        item = ["outputs", "yes", "a", "b"]
        payload.check_facts(
            {"attention": {"task": "task1", "name": "A", "items": [item], "todo": None}}
        )


def test_the_model_cells_hold_every_component():
    """The components' names are the ones the skeleton fixes (a renamed class would never be
    graded), in the cells the grading child runs (the model cells, and notebook 01's recipe cell)."""
    from kws.grading.protocol.handin import child_cells
    from kws.spec import ASSIGNMENTS

    for spec in ASSIGNMENTS.values():
        cells = child_cells(ROOT / "solutions" / spec.notebook, spec.cells)
        source = "\n".join(cell.source for _, cell in cells)
        for component in spec.checks().NUMERIC.values():
            if component.task in spec.tasks:
                name = component.name
                assert f"class {name}(" in source or f"def {name}(" in source, (spec.name, name)


def test_notebook_01_reference_passes_its_forward_checks():
    notebook = ROOT / "solutions" / "01_keyword_spotting.ipynb"
    facts = numeric.check_classes(run_model_cells(notebook), ["kws"], KEYWORD)
    facts = {"keyword_transformer": facts["keyword_transformer"]}  # the recipe is judged apart
    assert _failures(facts) == {}
    payload.check_facts(json.loads(json.dumps(facts)))
    topics = {item[0] for item in facts["keyword_transformer"]["items"]}
    assert topics == {"build", "outputs", "padding", "batch", "eval"}


def test_the_checks_import_neither_sympy_nor_torch_distributed():
    """A grading child runs every numeric check once: torch.testing.assert_close and the key
    padding mask of torch.nn's attention would import sympy and torch.distributed on their first
    call (torch 2.14: over a CPU-second in every child), so the checks use neither."""
    import subprocess
    import sys

    script = f"""
import sys
from pathlib import Path
from kws.spec import ASSIGNMENTS
from kws.grading.child import numeric
from kws.grading.child.cells import run_model_cells
for name, notebook in [("speaker_id", "02_speaker_id.ipynb"), ("keyword_spotting", "01_keyword_spotting.ipynb")]:
    components = ASSIGNMENTS[name].checks().NUMERIC
    tasks = sorted({{c.task for c in components.values()}})
    facts = numeric.check_classes(run_model_cells(Path({str(ROOT)!r}) / "solutions" / notebook), tasks, components)
    assert sum(len(f["items"]) for f in facts.values()) > 20, facts
print(sorted(m for m in ("sympy", "torch.distributed.tensor") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_torch_encoder_reference_masks_the_padding_it_is_given():
    """TorchEncoder passes the padding on to its layers: padded frames change no valid output,
    which is the per-example reference's output."""
    import torch

    from kws.assignments.speaker_id.layer_checks import TorchEncoder, TorchEncoderLayer
    from kws.check.layers import inputs, per_example
    from kws.check.selfcheck import differs

    x, mask, noise = inputs()
    for norm_first in (False, True):
        encoder = TorchEncoder(TorchEncoderLayer(norm_first, "gelu"), final_norm=True)
        encoder = encoder.double().eval()
        with torch.no_grad():
            clean, noisy = encoder(x, mask), encoder(x + noise * mask[..., None], mask)
        assert differs(noisy[~mask], clean[~mask]) is None
        assert differs(clean[~mask], per_example(encoder, x, mask)) is None
