"""Every module of the kit imports on its own in a fresh interpreter, writing nothing: a module
that only the full run's paths reach (`kws demo`'s measurements, the rehearsal's page, the
catalogs' extractor) fails here, in the default run, on an import error or a name it lost."""

import json
import os
import subprocess
import sys

from course_helpers import ROOT

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import kws
failed = {}
names = [m.name for m in pkgutil.walk_packages(kws.__path__, "kws.")
         if ".graded_tests" not in m.name]  # the graders' test modules: pytest's, not the kit's
for name in names:
    try:
        importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - each module's failure is what is reported
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"imported": len(names), "failed": failed}))
"""


def _kit_files() -> list:
    return sorted(
        p.relative_to(ROOT) for p in (ROOT / "kws").rglob("*") if "__pycache__" not in p.parts
    )


def test_every_module_of_the_kit_imports_on_its_own_and_writes_nothing(tmp_path):
    before = _kit_files()
    work, home = tmp_path / "work", tmp_path / "home"  # matplotlib keeps its cache in HOME
    work.mkdir()
    home.mkdir()
    env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["imported"] > 250  # every package walked, not only the top one
    assert list(work.iterdir()) == []  # nothing written where it ran
    assert _kit_files() == before
