"""The last cell of every course notebook, "Ready to hand in?"::

    from kws.handin.cell import ready_to_hand_in

    ready_to_hand_in("speaker_id", data=DATA_DIR, outputs=OUT_DIR)

It checks the notebook with what it wrote as ``kws handin`` does (`kws.handin.check`) and writes
``handin.zip`` in the notebook's folder. On Colab the notebook is taken as it is open in the
browser (no file holds it on the runtime), and the zip is offered for download. Elsewhere the
saved file is checked: the cell is run after saving the notebook.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from kws.grading.protocol.handin import find_notebook
from kws.handin.bundle import ZIP_NAME
from kws.handin.notebook import HANDIN_TAG, cells_not_run
from kws.i18n import N_, speaking
from kws.i18n import gettext as _
from kws.spec import ASSIGNMENTS

SAVE_FIRST = N_(
    "Not checked yet: the saved {name} shows no code cell run. Save the notebook (File > Save, "
    "or Ctrl+S), then run this cell again: the grader reads the saved file, and so does this "
    "check."
)


def ready_to_hand_in(assignment: str, *, data: Path | None, outputs: Path | None) -> None:
    """Check the running notebook of `assignment` with what it wrote, print one line per check,
    and write ``handin.zip`` in the working directory (the notebook's folder); on Colab, offer
    the zip for download.

    Args:
        assignment: the notebook's assignment (``"speaker_id"``, as its parameters cell names
            it to `kws.spec.settings`).
        data: the notebook's ``DATA_DIR`` (None: a written-only assignment, which has none).
        outputs: the notebook's ``OUT_DIR``: its files are zipped as the ``outputs/`` folder
            beside the notebook, where the grader reads them (None: written-only, none).
    """
    spec = ASSIGNMENTS[assignment]
    with speaking(spec.language):
        _ready(spec, data, outputs)


def _ready(spec, data: Path | None, outputs: Path | None) -> None:
    """`ready_to_hand_in`'s work for `spec`'s notebook, in the language spoken."""
    from kws.handin.check import check_handin
    from kws.notebooks import read_notebook

    with tempfile.TemporaryDirectory(prefix="kws-notebook-") as folder:
        notebook = _colab_notebook(Path(folder) / spec.notebook)
        if notebook is None:
            try:
                notebook = _saved_notebook(spec)
            except FileNotFoundError as error:
                print(_("Not checked: {error}. Run this cell in the notebook's own folder, or "
                        "check it with `kws handin {notebook}` there.").format(
                          error=error, notebook=spec.notebook))  # fmt: skip
                return
            nb = read_notebook(notebook)
            code = [c for c in nb.cells if c.cell_type == "code"]
            ran = [c for c in code if HANDIN_TAG not in c.get("metadata", {}).get("tags", [])]
            if ran and len(cells_not_run(nb)) == len(ran):  # a file saved before any cell ran
                print(_(SAVE_FIRST).format(name=notebook.name))
                return
        zip_path = Path.cwd() / ZIP_NAME
        report = check_handin(notebook, data=None if data is None else Path(data),
                              zip_path=zip_path,
                              outputs=None if outputs is None else Path(outputs))  # fmt: skip
    print(report.text())
    if "google.colab" in sys.modules:
        from google.colab import files

        files.download(str(zip_path))


def _saved_notebook(spec) -> Path:
    """The notebook file the kernel runs: the one Jupyter names (``JPY_SESSION_NAME``), else the
    course's notebook in the working directory (where Jupyter starts a notebook's kernel)."""
    named = os.environ.get("JPY_SESSION_NAME", "")
    if named.endswith(".ipynb") and Path(named).is_file():
        return Path(named)
    return find_notebook(Path.cwd(), spec.notebook, list(spec.model_tasks.values()))


def _colab_notebook(path: Path) -> Path | None:
    """On Colab, the notebook as it is open in the browser, written to `path`; None elsewhere
    (or when Colab does not answer: then the saved file is checked)."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import _message

        live = _message.blocking_request("get_ipynb", timeout_sec=60)["ipynb"]
    except Exception:  # an older Colab, or the browser did not answer in time
        return None
    path.write_text(json.dumps(live), encoding="utf-8")
    return path
