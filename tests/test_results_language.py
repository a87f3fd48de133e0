"""What Gradescope shows a student in the course's language: the released keyword-spotting
notebook, handed in as it is (TODOs left, nothing saved), graded with ``--language``; its
results.json's test names, failure messages and run output hold no English sentence of the
catalogs (the notebook's own TODO hints aside: the notebook's text, quoted as written); the tier
set, what the sandbox protects and an accuracy's credit likewise, and the pages read an accuracy
and its tiers back from a results.json in any language."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from course_helpers import ROOT
from test_languages import _english_in

from kws import i18n

SAID = {
    "zh-TW": ["載入你的 kws 模型失敗", "缺少 kws/config.json", "本次未評分", "任務 1：",
              "隱藏的 12 類測試集上的準確率"],
    "pl": ["Nie udało się wczytać twojego modelu kws", "brakuje kws/config.json",
           "Nieocenione w tym przebiegu", "Zadanie 1:", "Dokładność na ukrytym 12-klasowym"],
}  # fmt: skip
QUOTED = [
    r"(TODO[:：]|the first: |第一個是：|pierwsze: ).*",  # the notebook's TODO hint, as written
]


def _graded(folder, tiny_data, language: str) -> dict:
    """The results.json of the released notebook 01 graded in `language`, with what the grader
    printed under ``terminal``."""
    submission = folder / "handin"
    submission.mkdir()
    shutil.copy(ROOT / "assignments" / "01_keyword_spotting.ipynb", submission)
    results = folder / "results.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               str(ROOT / "grader"), "--submission", str(submission), "--data", str(tiny_data),
               "--results", str(results), "--assignment", "keyword_spotting",
               "--language", language]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(i18n.ENV, None)
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert results.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(results.read_text(encoding="utf-8")) | {"terminal": done.stdout}


@pytest.mark.parametrize(  # a `kws grade` each (5 CPU-s): the full run grades all three
    "tag", ["zh-TW", *(pytest.param(tag, marks=pytest.mark.full) for tag in ("pl", "en"))]
)
def test_results_json_speaks_the_course_language(tmp_path, tiny_data, tag):
    """English is the default and the check below can fail: in English the same results show
    many of the catalog's sentences, the titles as the tests' docstrings give them."""
    document = _graded(tmp_path, tiny_data, tag)
    names = [test["name"] for test in document["tests"]]
    shown = "\n".join([document["output"], *names, *(t["output"] for t in document["tests"])])
    assert len(names) == 14 and all("test_" not in name for name in names)  # titles, not code
    for quoted in QUOTED:
        shown = re.sub(quoted, " ", shown)
    if tag == "en":
        assert "Accuracy on the hidden 12-class test set (partial credit by tier)" in names
        assert len(_english_in(shown)) >= 10
        return
    assert [said for said in SAID[tag] if said not in shown] == []
    assert _english_in(shown) == []
    table = document["terminal"].split(" score ", 1)[1]  # the score table the grader prints
    total = {"zh-TW": "總計", "pl": "razem"}[tag]
    assert f"   {total} " in table and "   total " not in table


OWN_SPEC = """\
name = "x"
title = "t"
notebook = "x.ipynb"

[tasks.task1]
title = "Etap 1: a model"
class = "Net"
target = "medium"
limits = { max_layer_calls = 2, max_parameters = 50_000, max_encoder_params = 20_000 }
rules = { norm_before_classifier = true, from_scratch = true, layer_class = "Block", \
forbidden = ["kws.data.features.SpecAugment"] }

[accuracy]
source = "predictions.csv"
sample = 4
"""


class _Grading:
    """What the declared tests ask of the grading fixture: a child whose model breaks every
    limit and rule."""

    def loaded_model(self, child, task, evaluated=False):
        return {"class": "Other"}

    def probe_facts(self, child, task, forward=True):
        return {"layer_calls": 5, "encoder_params": None, "layer_class_calls": 0,
                "forbidden": ["torch.nn.MultiheadAttention (encoder.0)"]}  # fmt: skip


def _title(title: str, values: dict) -> str:
    return i18n.shown(i18n.Text(title, **values))  # as the grader names a test


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_the_tests_a_spec_declares_speak_the_course_language(tmp_path, tag):
    """An own course's spec: the titles the grader writes (`title_of`, shown as results.json
    names them) and the failure messages of its declared tests are the catalog's, the course's
    own words (the task's label, class names) as written; the English stays the field."""
    from kws.grading.judge.declared import spec_tests
    from kws.grading.judge.results import title_of
    from kws.spec import load

    (tmp_path / "spec.toml").write_text(OWN_SPEC)
    tests = spec_tests(load(tmp_path / "spec.toml"), str(tmp_path / "test_spec.py"))
    english = {name: test.__doc__ for name, test in tests.items()}
    assert english["test_task1_layers_that_run"] == "Etap 1: 1 to 2 layers run in forward"
    assert english["test_task1_written_from_scratch"] == (
        "Etap 1: Block written in the notebook, no library Transformer or attention layer, no "
        "kws.data.features.SpecAugment in forward"
    )
    calls = {
        "test_model_loads": {"task": "task1"},
        "test_task1_layers_that_run": {"score": None},
        "test_task1_encoder_parameters": {"score": None},
        "test_task1_written_from_scratch": {},
    }
    with i18n.speaking(tag):
        titles = [_title(*title_of(test)) for test in tests.values()]
        failures = []
        for name, extra in calls.items():
            with pytest.raises(AssertionError) as error:
                tests[name](_Grading(), None, **extra)
            failures.append(str(error.value))
    assert len(titles) == 8 and all(title not in english.values() for title in titles)
    shown = "\n".join(titles + failures)
    assert _english_in(shown) == [], shown
    said = {"zh-TW": ["Etap 1：forward 中執行 1 到 2 層", "你的 task1 模型沒有 `.encoder` 模組",
                      "torch.nn.MultiheadAttention (encoder.0)"],
            "pl": ["Etap 1: w forward działa od 1 do 2 warstw", "Twój model task1 nie ma modułu",
                   "torch.nn.MultiheadAttention (encoder.0)"]}[tag]  # fmt: skip
    assert [words for words in said if words not in shown] == []


# ---- what the sandbox writes, the tier set and an accuracy's credit ---------------------------


def _sandbox_lines(tmp_path) -> list[str]:
    """Every line the sandbox can write about a child, made by the sandbox's own code: its
    limits (set in a process of their own), the namespaces' and permissions' lines, the wall
    clock and the note on the files not copied (`kws.grading.sandbox.run._report`)."""
    from types import SimpleNamespace

    from kws.grading.protocol.handin import CopyPlan
    from kws.grading.sandbox import bwrap, launch, run
    from kws.grading.sandbox.supervise import ChildResult, Limits

    limits = {"cpu_seconds": 600, "memory_bytes": 6 * 2**30, "file_bytes": 2**29, "processes": 32}
    script = ("import json, sys; from kws.grading.sandbox.launch import _set_limits; "
              f"print(json.dumps(_set_limits({limits!r}, dedicated_user=True)))")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = ChildResult("invalid_output", 0, "", "", reason="the child wrote no result file")
    plan = CopyPlan(ignored={"data/": 2_100_000_000, ".git/": 12_000_000}, links=["data.lnk"])
    run._report(result, tmp_path, plan, Limits(wall_seconds=300), SimpleNamespace(work="/w"))
    hidden = [str(tmp_path)]
    return [*json.loads(done.stdout), *bwrap.PROTECTIONS,
            launch._permissions_only(hidden, other_user=False),
            launch._permissions_only(hidden, other_user=True),
            "no allow-list (Operation not permitted)", "unprivileged user id 65534",
            "own PID namespace and /proc (no other process visible)",
            "own PID namespace (the machine's /proc: other processes are listed)",
            *result.protections, *result.notes, result.reason]  # fmt: skip


def _child_reasons(tmp_path) -> list[str]:
    """Why a child did not finish, as the sandbox's own code says it (`_classify`, the result
    file's checks, the quota's), with what the sandbox adds after a reason."""
    from kws.grading.sandbox import quota, supervise

    limits = supervise.Limits()
    said = [supervise._classify(*case, limits, stderr)[1] for case, stderr in [
        ((0, True, 1.0), ""), ((-24, False, 700.0), ""), ((1, False, 1.0), "x\nMemoryError"),
        ((-9, False, 1.0), ""), ((-15, False, 1.0), ""), ((1, False, 1.0), "ValueError: x"),
    ]]  # fmt: skip
    token, result = "t" * 32, tmp_path / "result.json"
    for text in [None, "", "{", "[]", '{"token": "u", "payload": {}}',
                 f'{{"token": "{token}", "payload": 3}}', "x" * 100]:  # fmt: skip
        result.unlink(missing_ok=True)
        if text is not None:
            result.write_text(text)
        with pytest.raises(ValueError) as error:
            supervise._read_result(result, token, cap=64)
        said.append(str(error.value))
    over = f"{quota.STOPPED} {quota.limit_text(2**30)}"
    return [*said, over, f"{said[0]} (it may write at most {quota.limit_text(2**30)})"]


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_what_the_sandbox_writes_is_shown_in_the_course_language(tmp_path, tag):
    """Each line the sandbox writes (a protection, a note, why a child did not finish) is one
    of the messages the grader translates, its values (sizes, counts, folders) kept; a line no
    message makes is shown as written. The sentence a student reads about a child that did not
    finish is the catalog's, the sandbox's reason in it translated too."""
    from kws.grading.judge.child_notes import TEMPLATES, shown_line
    from kws.grading.judge.notebook import child_problem
    from kws.grading.sandbox import allow
    from kws.grading.sandbox.supervise import ChildResult

    reasons = _child_reasons(tmp_path)
    lines = _sandbox_lines(tmp_path) + reasons
    assert "32 processes/threads" in lines and "wall clock 300 s" in lines
    assert allow.ALLOW_LIST in lines and len(set(lines)) == len(lines) == 31  # each kind once
    timed_out = ChildResult("timeout", None, "", "", reason=reasons[0])  # the wall clock's
    with i18n.speaking(tag):
        shown = [shown_line(line) for line in lines]
        assert shown_line("a line of another kind") == "a line of another kind"
        problem = child_problem(timed_out)
    assert _english_in(problem) == [] and "300" in problem, problem
    untranslated = [line for line, said in zip(lines, shown, strict=True) if said == line]
    assert untranslated == [] and _english_in("\n".join(shown)) == []
    assert any("32" in said for said in shown) and any("data/ (2.1 GB)" in s for s in shown)
    assert any("ValueError: x" in said for said in shown)  # the child's own words, as written
    assert len(TEMPLATES) == len(set(TEMPLATES))


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_an_accuracys_credit_and_the_tier_set_speak_the_language_and_the_pages_read_them(tag):
    """`tier_credit`'s four sentences and the tier set's description in the course's
    language; the report and the feedback page read the accuracy and the tiers of such a
    results.json from its fields, and still read an English one from its text."""
    from kws.grading.judge.tiers import TierSet, accuracy_of, tier_credit, tiers_of

    tiers = {"simple": 0.6, "medium": 0.7, "strong": 0.8, "boss": 0.9}
    with i18n.speaking(tag):
        said = [tier_credit(a, tiers, "strong")[1] for a in (0.5, 0.75, 0.85, 0.95)]
        said.append(
            TierSet("speech_commands_v2", tiers, "detected from the --data folder").describe()
        )
        said.append(TierSet("written only", tiers, "no task to run").describe())
    assert _english_in("\n".join(said)) == [], said
    assert all(number in "".join(said) for number in ("0.5000", "0.7500", "0.9500", "0.8000"))
    test = {"output": said[1], "extra_data": {"measured": {"accuracy": 0.75}}}
    document = {"output": said[4], "extra_data": {"tiers": {"keyword_spotting": tiers}}}
    assert accuracy_of(test) == 0.75 and tiers_of(document, "keyword_spotting") == tiers
    assert accuracy_of({"output": said[1]}) is None  # no field: nothing made up from the text
    english = {"output": tier_credit(0.75, tiers, "strong")[1]}  # a record of an older run
    described = TierSet("speech_commands_v2", tiers, "--dataset").describe()
    assert accuracy_of(english) == 0.75
    assert tiers_of({"output": f"Accuracy tiers for keyword_spotting: {described}."},
                    "keyword_spotting") == tiers  # fmt: skip


COMPLETED_SAID = {
    "zh-TW": ["準確率", "達到", "等級組「", "由 --data 資料夾偵測", "沙箱：", "無網路"],
    "pl": ["Dokładność", "osiąga próg", "zestaw progów „", "rozpoznany w folderze --data",
           "piaskownica:", "bez sieci"],
}  # fmt: skip


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_a_completed_hand_in_reads_its_grade_in_the_course_language(
    tmp_path, tiny_data, reference_submission, tag
):
    """The reference hand-in's notebook 01 (every test passed, a model that loads and an
    accuracy that reaches its tier), graded in the course's language: the accuracy's credit,
    the tier set, the sandbox's protections and the leaderboard's column are the catalog's,
    and no English sentence is left (its child's report from its record, as the corpora's)."""
    from recorded_children import grader_options

    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               str(ROOT / "grader"), "--submission", str(reference_submission),
               "--data", str(tiny_data), "--results", str(results),
               "--assignment", "keyword_spotting", "--language", tag, *grader_options()]  # fmt: skip
    paths = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {key: value for key, value in os.environ.items() if key != i18n.ENV}
    done = subprocess.run(command, cwd=tmp_path, env=env | {"PYTHONPATH": paths},
                          capture_output=True, text=True)  # fmt: skip
    assert results.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    document = json.loads(results.read_text(encoding="utf-8"))
    graded = [t for t in document["tests"] if t["max_score"] > 0]
    assert graded and all(t["score"] == t["max_score"] for t in graded), graded
    names = [test["name"] for test in document["tests"]]
    shown = "\n".join([document["output"], *names, *(t["output"] for t in document["tests"])])
    assert [said for said in COMPLETED_SAID[tag] if said not in shown] == [], shown
    assert _english_in(shown) == [], _english_in(shown)
    board = [entry["name"] for entry in document["leaderboard"]]
    assert board == [
        {"zh-TW": "關鍵詞辨識準確率", "pl": "Dokładność wykrywania słów kluczowych"}[tag]
    ]


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_what_the_tracer_found_reaches_the_graded_tests_in_the_course_language(tag):
    """A model whose classifier is fed by no normalization, whose layer class comes from
    elsewhere and that draws random numbers in eval: the child's facts, through its JSON
    (`shown_facts`), give the grader each explanation in the course's language
    (`ChildFacts.probe_facts`); the facts' English fields stay what the child wrote."""
    import torch
    from torch import nn

    from kws.grading.child.runner import shown_facts
    from kws.grading.judge.facts import shown_fact
    from kws.tracing.probes import layer_class_problem, norm_feeds_classifier

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    facts = {
        "norm_before_classifier": list(norm_feeds_classifier(model, (torch.zeros(2, 4),))),
        "layer_class_problem": layer_class_problem({"__name__": "__main__"}, "EncoderLayer"),
        "class_problems": {"Pooling": layer_class_problem({}, "Pooling"), "Head": None},
        "unsteady": i18n.Text(  # as `kws.tracing.compare.unsteady` says it
            "it draws random numbers in eval mode: {draws}", draws="torch.rand in 0"
        ),
    }
    facts["shown"] = shown_facts(facts)
    sent = json.loads(json.dumps(facts))  # what the grader reads of the child's payload
    english = sent["norm_before_classifier"][1]
    assert english.startswith("The input of the classifier") and sent["shown"]
    with i18n.speaking(tag):
        said = [shown_fact(sent, key) for key in
                ("norm_before_classifier", "layer_class_problem", "unsteady")]  # fmt: skip
        said.append(shown_fact(sent, "class_problems", "Pooling"))
    assert all(text not in facts.values() for text in said)
    assert _english_in("\n".join(said)) == [], said
    assert "EncoderLayer" in said[1] and "torch.rand in 0" in said[2] and "Pooling" in said[3]
    forged = dict(sent, shown=json.dumps({"unsteady": {"message": "{x}", "values": {"x": 1}}}))
    with i18n.speaking(tag):
        assert shown_fact(forged, "unsteady") == sent["unsteady"]  # not a kit message: English


@pytest.mark.parametrize("tag", ["zh-TW", "pl"])
def test_the_public_and_private_accuracies_note_speaks_the_language(tmp_path, tag):
    """The note every student of a course with a private test set reads (its model's accuracy
    on the private and the public test items) in the course's language, numbers as written."""
    from kws.grading.judge.public_gap import public_gap
    from kws.grading.testsets.hidden import HiddenTest

    labels, private = [0] * 200, [True] * 100 + [False] * 100
    hidden = HiddenTest(tmp_path / "x", labels, ("a", "b"), ("",) * 200, private=private)
    predictions = [0] * 80 + [1] * 20 + [0] * 100  # private set 0.80, public items 1.00
    with i18n.speaking(tag):
        notes = [public_gap(hidden, predictions, "02.ipynb", "task1", "utterances", 0.95)[0][0],
                 public_gap(hidden, predictions, "01.ipynb", "kws", "clips", compared=0.9)[0][0]]  # fmt: skip
    assert _english_in("\n".join(notes)) == [], notes
    assert "0.8000" in notes[0] and "0.9500" in notes[0] and "0.9000" in notes[1]
    assert {"zh-TW": "語句", "pl": "wypowiedzi"}[tag] in notes[0]
