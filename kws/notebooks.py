"""Notebooks: reading them, finding cells by tag, and making student versions from solutions.

A solution notebook marks the code students must write inside code cells::

        # BEGIN SOLUTION: write the scaled dot-product scores
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        # END SOLUTION

`release` turns every marked region into a TODO at the indentation of the BEGIN line::

        # TODO: write the scaled dot-product scores
        raise NotImplementedError("TODO: write the scaled dot-product scores")

Everything else in the cell's source is kept byte-for-byte; outputs and execution counts are
cleared; cell ids, metadata and tags are kept. Written questions (`kws.written`) keep their
prompt and get an empty answer cell; their rubrics and model answers are left out.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat

from kws.written.foreign import clear_nbgrader
from kws.written.questions import read_questions
from kws.written.release import check_no_leak, release_questions

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?P<rest>.*?)[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
# The line `student_version` puts where a solution was; group 1 is the student's hint (what the
# grader and `kws handin` look for in a hand-in).
_FOREIGN_MARKER = re.compile(r"#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\b")  # nbgrader's
TODO_RAISE = re.compile(r'raise NotImplementedError\("TODO: (.*?)"\)')
_MAGIC = re.compile(r"^(\s*)([%!])", re.MULTILINE)  # IPython lines, for the fallback


class NotebookError(ValueError):
    """A notebook that cannot be read or released; the message names the file and the fix."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a Jupyter notebook (nbformat 4) from `path`, with an error that says what to do."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook; check the path (expected an .ipynb file)")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
            "the file was damaged or edited by hand — open an earlier copy in Jupyter and save it again"
        ) from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookError(
            f"{path}: JSON but not a Jupyter notebook (no 'nbformat' key); hand in the .ipynb file "
            "that Jupyter saved"
        )
    if data["nbformat"] != 4:
        raise NotebookError(
            f"{path}: notebook format {data['nbformat']} is not supported; open and save it in a "
            "current Jupyter to convert it to format 4"
        )
    if not isinstance(data.get("cells"), list):
        raise NotebookError(
            f"{path}: the notebook has no list of cells; restore the file from an earlier copy"
        )
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises several unrelated types for damaged notebooks
        raise NotebookError(
            f"{path}: nbformat cannot read this notebook ({err}); restore it from an earlier copy"
        ) from None


class NoShell:
    """Stands in for IPython's ``get_ipython()`` where cells run outside Jupyter (the grader),
    so a cell Jupyter runs fine runs there too: shell lines and line magics (``!pip install``,
    ``%cd``, also inside an ``if "google.colab" in sys.modules:`` block) do nothing,
    ``files = !ls`` gives [], the Python under ``%%capture`` / ``%%time`` runs once in
    `namespace`, other cell magics (``%%bash``) are skipped.
    """

    def __init__(self, namespace: dict, filename: str):
        self.namespace, self.filename = namespace, filename

    def run_cell_magic(self, magic: str, line: str, cell: str) -> None:
        if magic in ("capture", "time", "timeit"):
            exec(compile(python_source(cell), self.filename, "exec"), self.namespace)

    def getoutput(self, *args, **kwargs) -> list:
        return []

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def python_source(source: str) -> str:
    """A cell's source with IPython syntax (``!cmd``, ``%magic``, ``%%cell``) turned into calls
    on ``get_ipython()`` exactly as Jupyter does, indentation kept."""
    if _plain_python(source):  # what IPython would return, without importing it (0.3 CPU-s)
        return source if source.endswith("\n") else source + "\n"
    from IPython.core.inputtransformer2 import TransformerManager  # ipykernel brings IPython

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython cannot parse it: let Python's compile name the line
        return _MAGIC.sub(r"\1pass  # \2", source)


def _plain_python(source: str) -> bool:
    """True when IPython would leave `source` as it is (but for the final newline it adds): it
    parses as Python (every IPython-only line, ``!ls``, ``%time``, ``x?``, a prompt, does not)
    and starts with neither a blank line nor indentation (which IPython removes)."""
    if not source.strip() or source[0] in " \t\r\n":
        return False
    try:
        ast.parse(source)
    except Exception:  # a syntax error, or a hostile cell (nesting too deep for the parser)
        return False
    return True


def cells_with_tag(nb: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    """The cells whose metadata.tags contain `tag`, in notebook order."""
    return [cell for cell in nb.cells if tag in cell.get("metadata", {}).get("tags", [])]


def code_of_tagged_cells(nb: nbformat.NotebookNode, tag: str) -> str:
    """The source of the code cells tagged `tag`, joined in order with blank lines between."""
    sources = [cell.source for cell in cells_with_tag(nb, tag) if cell.cell_type == "code"]
    return "\n\n".join(source.rstrip("\n") for source in sources) + ("\n" if sources else "")


def _string_literal(text: str) -> str:
    """`text` as a double-quoted Python string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def release_source(source: str, *, where: str = "cell") -> str:
    """Replace every solution region of one cell's source with its TODO; the rest is unchanged.

    `where` names the cell in error messages (e.g. "solutions/01.ipynb, cell 7").
    """
    out: list[str] = []
    begin: tuple[int, str, str, str] | None = None  # (line, indentation, what to write, newline)
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        body = line.rstrip("\r\n")
        if _FOREIGN_MARKER.search(body) and not BEGIN.match(body) and not END.match(body):
            raise NotebookError(
                f"{where}, line {number}: {body.strip()[:40]!r} is nbgrader's solution marker, "
                "in a cell without nbgrader metadata: students would get the solution; give the "
                "cell nbgrader's metadata (\"solution\": true), or mark the region the kit's "
                "way: '# BEGIN SOLUTION: <what to write>' ... '# END SOLUTION'"
            )
        if match := BEGIN.match(body):
            if begin is not None:
                raise NotebookError(
                    f"{where}, line {number}: BEGIN SOLUTION inside the region opened at line "
                    f"{begin[0]}; close it with '# END SOLUTION' first (regions cannot nest)"
                )
            rest = match["rest"]
            task = rest[1:].strip() if rest.startswith(":") else ""
            if not task:
                raise NotebookError(
                    f"{where}, line {number}: write what the student must do after the marker, "
                    "e.g. '# BEGIN SOLUTION: compute the attention weights'"
                )
            begin = (number, match["indent"], task, line[len(body) :] or "\n")
        elif END.match(body):
            if begin is None:
                raise NotebookError(
                    f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION before it; "
                    "add '# BEGIN SOLUTION: <what to write>' or remove the END line"
                )
            _, indent, task, begin_newline = begin
            message = f"TODO: {task}"
            out.append(f"{indent}# {message}{begin_newline}")
            raise_line = f"raise NotImplementedError({_string_literal(message)})"
            out.append(f"{indent}{raise_line}{line[len(body) :]}")
            begin = None
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise NotebookError(
            f"{where}, line {begin[0]}: BEGIN SOLUTION is never closed; add '# END SOLUTION' "
            "after the reference code"
        )
    return "".join(out)


def student_version(nb: nbformat.NotebookNode, *, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of solution notebook `nb` with TODOs for the solutions and no outputs; its written
    questions (`kws.written`) with empty answer cells, without their rubrics and model answers.

    Raises:
        NotebookError: a solution marker out of place.
        kws.written.questions.QuestionError: a written question that cannot be released, or
            a rubric or model answer that would reach students.
    """
    questions = read_questions(nb, name=name)
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):  # nbgrader's regions, as its release does
        clear_nbgrader(cell, where=f"{name}, cell {index}")
    student.cells, origins = release_questions(student.cells, questions)
    for index, cell in zip(origins, student.cells, strict=True):
        if cell.cell_type != "code":
            continue
        cell.source = release_source(cell.source, where=f"{name}, cell {index}")
        cell.outputs = []
        cell.execution_count = None
    check_no_leak(student, questions, origins, name=name)
    return student


def release(solution_path: str | Path, student_path: str | Path) -> Path:
    """Write the student version of the solution notebook at `solution_path` to `student_path`."""
    solution_path, student_path = Path(solution_path), Path(student_path)
    if student_path.resolve() == solution_path.resolve():
        raise NotebookError(
            f"{student_path}: releasing onto the solution notebook itself would erase the "
            "solutions; write the student version to another folder (e.g. assignments/)"
        )
    text = _student_text(solution_path)
    student_path.parent.mkdir(parents=True, exist_ok=True)
    student_path.write_text(text, encoding="utf-8")
    return student_path


def _student_text(solution_path: Path) -> str:
    student = student_version(read_notebook(solution_path), name=str(solution_path))
    return nbformat.writes(student)


def _solution_notebooks(solutions_dir: Path) -> list[Path]:
    if not solutions_dir.is_dir():
        raise NotebookError(f"{solutions_dir}: no such folder of solution notebooks")
    return sorted(solutions_dir.glob("*.ipynb"))


def release_folder(solutions_dir: str | Path, assignments_dir: str | Path) -> list[Path]:
    """Release every notebook of `solutions_dir` into `assignments_dir` (same file names)."""
    solutions_dir, assignments_dir = Path(solutions_dir), Path(assignments_dir)
    return [
        release(path, assignments_dir / path.name) for path in _solution_notebooks(solutions_dir)
    ]


def check_released(solutions_dir: str | Path, assignments_dir: str | Path) -> list[Path]:
    """The student notebooks that are missing, out of date, or have no solution notebook.

    An empty list means `assignments_dir` is exactly what `release_folder` would write.
    """
    solutions_dir, assignments_dir = Path(solutions_dir), Path(assignments_dir)
    stale = []
    solutions = _solution_notebooks(solutions_dir)
    for path in solutions:
        target = assignments_dir / path.name
        if not target.is_file() or target.read_text(encoding="utf-8") != _student_text(path):
            stale.append(target)
    names = {path.name for path in solutions}
    stale += [path for path in sorted(assignments_dir.glob("*.ipynb")) if path.name not in names]
    return stale


def execute_notebook(
    path: str | Path,
    *,
    env: dict[str, str] | None = None,
    timeout: int = 3600,
    save_to: str | Path | None = None,
    echo: bool = False,
    on_output: Callable[[str], object] | None = None,
    kernel_startup: str = "",
) -> nbformat.NotebookNode:
    """Run every cell of the notebook at `path` in a fresh python3 kernel, in the notebook's folder.

    Args:
        path: the notebook.
        env: environment variables added for the kernel (the `parameters` cell reads its settings
            from them: KWS_DATA_DIR, KWS_OUT_DIR, KWS_STEPS, ...).
        timeout: seconds one cell may run.
        save_to: write the executed notebook (with its outputs) here, also when a cell fails.
        echo: print what the cells print as it arrives (progress bars included).
        on_output: called with each piece of text the cells print, as it arrives (for a status
            line when several notebooks run at once).
        kernel_startup: a line of Python the kernel runs before the first cell, outside the
            notebook (IPython's ``exec_lines``; `kws.demo.cores.kernel_startup` makes one).

    Returns:
        the executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; its message holds the traceback.
    """
    import os
    import sys
    import tempfile

    from nbclient import NotebookClient

    class _Client(NotebookClient):
        def create_kernel_manager(self):
            self.km = self.kernel_manager_class(
                kernel_name=self.kernel_name, config=self.config, **transport
            )
            return self.km

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream":
                if echo:
                    stream = sys.stderr if msg["content"]["name"] == "stderr" else sys.stdout
                    stream.write(msg["content"]["text"])
                    stream.flush()
                if on_output is not None:
                    on_output(msg["content"]["text"])
            return super().output(outs, msg, display_id, cell_index)

    path = Path(path)
    notebook = read_notebook(path)
    with tempfile.TemporaryDirectory(prefix="kws-kernel-") as sockets:
        transport = _kernel_transport(Path(sockets))
        client = _Client(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent.resolve())}},
            extra_arguments=[f"--IPKernelApp.exec_lines={[kernel_startup]!r}"]
            if kernel_startup
            else [],
        )
        try:
            client.execute(env={**os.environ, **(env or {})})
        finally:
            if save_to is not None:
                nbformat.write(notebook, str(save_to))
    return notebook


def _kernel_transport(folder: Path) -> dict[str, str]:
    """How a kernel and its client talk: Unix sockets in `folder` where the system has them.

    Over TCP the client picks five free ports and the kernel binds them a moment later; a
    notebook started beside others (`kws demo`, a test run on several workers) can lose a port to
    one of them in between, and its kernel never answers. Sockets in a folder of its own cannot
    collide. Windows, and a temporary folder too deep for a socket's path (about 100 bytes), keep
    TCP.
    """
    import os

    ip = str(folder / "kernel")  # the sockets are kernel-1 ... kernel-5
    if os.name == "nt" or len(os.fsencode(ip)) + len("-99") > 100:
        return {}
    return {"transport": "ipc", "ip": ip}
