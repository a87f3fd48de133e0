"""What Gradescope shows a student in the course's language: the released keyword-spotting
notebook, handed in as it is (TODOs left, nothing saved), graded with ``--language``; its
results.json's test names, failure messages and run output hold no English sentence of the
catalogs (the notebook's own TODO hints, the tier set and the sandbox's description aside: data
the page quotes as recorded)."""

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
    r"tier set '[^']*' \([^)]*\)",  # the tier set, as its file names it
    r"(sandbox|沙箱|piaskownica): .*",  # the sandbox's protections, for the record
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


@pytest.mark.parametrize("tag", ["zh-TW", "pl", "en"])
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
