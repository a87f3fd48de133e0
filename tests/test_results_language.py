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
