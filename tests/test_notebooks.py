"""Student versions of solution notebooks: TODOs in place of solutions, everything else unchanged."""

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from kws.notebooks import (
    NotebookError,
    cells_with_tag,
    check_released,
    code_of_tagged_cells,
    read_notebook,
    release,
    release_folder,
)

ATTENTION_CELL = """\
import math

class Attention:
    def scores(self, q, k):
        # BEGIN SOLUTION: compute the scaled dot-product scores
        d = q.shape[-1]
        return q @ k.transpose(-2, -1) / math.sqrt(d)
        # END SOLUTION

    def weights(self, scores):
        # BEGIN SOLUTION: apply the "softmax" over the keys
        return scores.softmax(dim=-1)
        # END SOLUTION
"""

ATTENTION_STUDENT = """\
import math

class Attention:
    def scores(self, q, k):
        # TODO: compute the scaled dot-product scores
        raise NotImplementedError("TODO: compute the scaled dot-product scores")

    def weights(self, scores):
        # TODO: apply the "softmax" over the keys
        raise NotImplementedError("TODO: apply the \\"softmax\\" over the keys")
"""

# Odd spacing, trailing blanks and a missing final newline must all survive unchanged.
PLAIN_CELL = "x  =  1   \n\ny = [x,\n\t 2]  # keep   me\nprint( y )"


def solution_notebook():
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        v4.new_markdown_cell("# Task 1\n# BEGIN SOLUTION: not a marker in markdown"),
        v4.new_code_cell("DATA_DIR = 'data'", metadata={"tags": ["parameters"]}),
        v4.new_code_cell(ATTENTION_CELL, metadata={"tags": ["model"]}),
        v4.new_code_cell(PLAIN_CELL, metadata={"tags": ["model", "slow"], "custom": 3}),
        v4.new_code_cell(
            "# BEGIN SOLUTION: train the model\nfit()\n# END SOLUTION",
            metadata={"tags": ["slow"]},
        ),
    ]
    nb.cells[3].outputs = [v4.new_output("stream", name="stdout", text="[1, 2]\n")]
    nb.cells[3].execution_count = 4
    return nb


def write(nb, path):
    nbformat.write(nb, path)
    return path


def test_release_replaces_each_region_and_keeps_everything_else(tmp_path):
    solution = write(solution_notebook(), tmp_path / "sol.ipynb")
    student = read_notebook(release(solution, tmp_path / "out" / "student.ipynb"))
    original = read_notebook(solution)

    assert student.cells[2].source == ATTENTION_STUDENT
    assert student.cells[4].source == (
        '# TODO: train the model\nraise NotImplementedError("TODO: train the model")'
    )
    assert student.cells[3].source == PLAIN_CELL  # no markers: byte-for-byte
    assert student.cells[0].source == original.cells[0].source  # markdown is never touched
    assert student.cells[3].outputs == [] and student.cells[3].execution_count is None
    assert student.cells[3].metadata == {"tags": ["model", "slow"], "custom": 3}
    assert [c.id for c in student.cells] == [c.id for c in original.cells]
    assert student.metadata == original.metadata
    nbformat.validate(student)


def test_released_code_raises_the_todo_message():
    student = read_notebook_from(solution_notebook())
    namespace = {}
    exec(student.cells[2].source, namespace)
    with pytest.raises(NotImplementedError, match="TODO: compute the scaled dot-product scores"):
        namespace["Attention"]().scores(1.0, 2.0)


def read_notebook_from(nb):
    from kws.notebooks import student_version

    return student_version(nb)


def test_indentation_of_the_begin_line_is_kept_with_tabs_and_crlf():
    from kws.notebooks import release_source

    source = "if True:\r\n\t# BEGIN SOLUTION: set x\r\n\tx = 1\r\n\t# END SOLUTION\r\nprint(x)\r\n"
    assert release_source(source) == (
        'if True:\r\n\t# TODO: set x\r\n\traise NotImplementedError("TODO: set x")\r\nprint(x)\r\n'
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a = 1\n# BEGIN SOLUTION: x\nx = 1\n", "line 2: BEGIN SOLUTION is never closed"),
        ("x = 1\n# END SOLUTION\n", "line 2: END SOLUTION without a BEGIN"),
        (
            "# BEGIN SOLUTION: a\n# BEGIN SOLUTION: b\n# END SOLUTION\n# END SOLUTION\n",
            "line 2: BEGIN SOLUTION inside the region opened at line 1",
        ),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "line 1: write what the student must do"),
    ],
)
def test_bad_markers_name_notebook_cell_and_line(tmp_path, source, message):
    nb = solution_notebook()
    nb.cells[3].source = source
    solution = write(nb, tmp_path / "broken.ipynb")
    with pytest.raises(NotebookError, match=message) as info:
        release(solution, tmp_path / "student.ipynb")
    assert f"{solution}, cell 3, " in str(info.value)
    assert not (tmp_path / "student.ipynb").exists()


def test_release_is_idempotent_and_stale_files_are_found(tmp_path):
    solutions, assignments = tmp_path / "solutions", tmp_path / "assignments"
    solutions.mkdir()
    write(solution_notebook(), solutions / "01_a.ipynb")
    write(solution_notebook(), solutions / "02_b.ipynb")
    written = release_folder(solutions, assignments)
    assert written == [assignments / "01_a.ipynb", assignments / "02_b.ipynb"]
    first = [path.read_bytes() for path in written]
    assert check_released(solutions, assignments) == []

    release_folder(solutions, assignments)
    assert [path.read_bytes() for path in written] == first

    # The instructor edits a solution and forgets to release; another assignment is orphaned.
    nb = solution_notebook()
    nb.cells[3].source += "\nprint('new')"
    write(nb, solutions / "01_a.ipynb")
    write(solution_notebook(), assignments / "03_orphan.ipynb")
    (assignments / "02_b.ipynb").unlink()
    assert check_released(solutions, assignments) == [
        assignments / "01_a.ipynb",
        assignments / "02_b.ipynb",
        assignments / "03_orphan.ipynb",
    ]


def test_cells_by_tag_and_their_code():
    nb = solution_notebook()
    assert [c.source for c in cells_with_tag(nb, "slow")] == [PLAIN_CELL, nb.cells[4].source]
    code = code_of_tagged_cells(nb, "model")
    assert code == ATTENTION_CELL.rstrip("\n") + "\n\n" + PLAIN_CELL + "\n"
    compile(code, "<model cells>", "exec")
    assert code_of_tagged_cells(nb, "missing") == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"cells": [', "not valid JSON"),
        ('{"hello": 1}', "not a Jupyter notebook"),
        (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}), "no list of cells"),
        (json.dumps({"nbformat": 3, "worksheets": []}), "format 3 is not supported"),
    ],
)
def test_unreadable_notebooks_are_named_with_a_fix(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError, match=message) as info:
        read_notebook(path)
    assert str(path) in str(info.value)


def test_missing_notebook_is_named(tmp_path):
    with pytest.raises(NotebookError, match="no such notebook"):
        read_notebook(tmp_path / "nope.ipynb")


def test_release_refuses_to_overwrite_the_solutions(tmp_path):
    solution = write(solution_notebook(), tmp_path / "sol.ipynb")
    before = solution.read_bytes()
    with pytest.raises(NotebookError, match="would erase the solutions"):
        release_folder(tmp_path, tmp_path)
    assert solution.read_bytes() == before


@pytest.mark.parametrize("folder", ["solutions", "assignments"])
def test_a_fresh_runtime_installs_the_kit_before_any_cell_imports_it(folder):
    """On a fresh Colab runtime the kit is missing: the install cell must be the first code cell,
    and no earlier cell may import kws (the parameters cell reads the spec through kws)."""
    root = Path(__file__).resolve().parents[1] / folder
    for path in sorted(root.glob("0*.ipynb")):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        first = "".join(code[0]["source"])
        assert code[0].get("id") == "setup-install", path.name
        assert 'find_spec("kws")' in first and "%pip install" in first, path.name
        assert "from kws" not in first and "import kws" not in first, path.name
        later = "".join("".join(c["source"]) for c in code[1:])
        assert "from kws" in later  # the check looks at the cells that do import it


def test_notebooks_run_side_by_side_each_in_its_own_kernel_and_folder(tmp_path, monkeypatch):
    """`kws demo` and the test run start kernels side by side; over TCP one could lose its ports
    to another before binding them and never answer. Each runs in its notebook's folder, talks
    over its own sockets, and leaves nothing behind in the temporary folder."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from kws.notebooks import execute_notebook

    temporary = Path(tempfile.mkdtemp(prefix="kws-test-"))  # tmp_path is too deep for sockets
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    probe = (
        "import os\n"
        "from ipykernel.connect import get_connection_info\n"
        "print(get_connection_info(unpack=True)['transport'], os.getcwd())"
    )
    paths = []
    for name in "abc":
        (tmp_path / name).mkdir()
        paths.append(
            write(v4.new_notebook(cells=[v4.new_code_cell(probe)]), tmp_path / name / "n.ipynb")
        )
    with ThreadPoolExecutor(len(paths)) as pool:
        ran = list(pool.map(lambda path: execute_notebook(path, save_to=path), paths))
    for path, notebook in zip(paths, ran, strict=True):
        printed = notebook.cells[0].outputs[0]["text"].split()
        expected = "tcp" if os.name == "nt" else "ipc"
        assert printed == [expected, str(path.parent.resolve())]
        assert read_notebook(path).cells[0].outputs  # saved with its output
    left = list(temporary.iterdir())
    shutil.rmtree(temporary)
    assert left == []


def test_a_temporary_folder_too_deep_for_sockets_keeps_tcp(tmp_path):
    from kws.notebooks import _kernel_transport

    assert _kernel_transport(tmp_path / ("d" * 120)) == {}
    short = _kernel_transport(Path("/tmp/kws-kernel-abc"))
    assert short == (
        {} if os.name == "nt" else {"transport": "ipc", "ip": "/tmp/kws-kernel-abc/kernel"}
    )
