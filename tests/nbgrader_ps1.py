"""nbgrader's own example course, written fresh from nbgrader's documented format: the
``source/ps1/problem1.ipynb`` an instructor writes (cells with ``nbgrader`` metadata: solution,
grade, locked, grade_id, points, schema_version 3; ``### BEGIN SOLUTION`` / ``### END SOLUTION``
and ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` regions) and what a student hands in
after nbgrader's release (``submitted/<student>/ps1/problem1.ipynb``).

    nb = problem1()                     # the instructor's source notebook (nbformat 4)
    nb = problem2()                     # its second notebook: manually graded answers only
    handed_in = submitted(released, {"squares": CODE, "sum_of_squares_equation": "$...$"})
    course = write_course(tmp_path / "course")   # ps1 as a course folder of the kit
"""

import copy
import json
from pathlib import Path

import nbformat

SQUARES = '''def squares(n):
    """Compute the squares of numbers from 1 to n, such that the
    ith element of the returned list equals i^2.

    """
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be greater than or equal to 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION'''
SUM_OF_SQUARES = '''def sum_of_squares(n):
    """Compute the sum of the squares of numbers from 1 to n."""
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION'''
HIDDEN = '''"""Check that sum_of_squares returns the correct answer for various inputs."""
assert sum_of_squares(1) == 1
assert sum_of_squares(2) == 5
assert sum_of_squares(10) == 385
### BEGIN HIDDEN TESTS
assert sum_of_squares(11) == 506
### END HIDDEN TESTS'''


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool = False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}  # fmt: skip
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def problem1() -> nbformat.NotebookNode:
    """ps1/problem1.ipynb as the instructor writes it in nbgrader's ``source/`` folder."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("For this problem set, we'll be using the Jupyter notebook:"),
        md(
            "---\n## Part A (2 points)\n\nWrite a function that returns a list of numbers, such "
            "that $x_i=i^2$, for $1\\leq i \\leq n$. Make sure it handles the case where $n<1$ "
            "by raising a `ValueError`."
        ),  # fmt: skip
        code(SQUARES, metadata=_meta("squares", grade=False, solution=True)),
        md("Your function should print `[1, 4, 9, 16, 25, 36, 49, 64, 81, 100]` for $n=10$."),
        code("squares(10)"),
        code(
            '"""Check that squares returns the correct output for several inputs"""\n'
            "assert squares(1) == [1]\nassert squares(2) == [1, 4]\n"
            "assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]",
            metadata=_meta("correct_squares", grade=True, solution=False, locked=True, points=1),
        ),  # fmt: skip
        code(
            '"""Check that squares raises an error for invalid inputs"""\ntry:\n'
            "    squares(0)\nexcept ValueError:\n    pass\nelse:\n"
            '    raise AssertionError("did not raise")',
            metadata=_meta(
                "squares_invalid_input", grade=True, solution=False, locked=True, points=1
            ),
        ),  # fmt: skip
        md(
            "---\n\n## Part B (1 point)\n\nUsing your `squares` function, write a function that "
            "computes the sum of the squares of the numbers from 1 to $n$."
        ),  # fmt: skip
        code(SUM_OF_SQUARES, metadata=_meta("sum_of_squares", grade=False, solution=True)),
        code(
            HIDDEN,
            metadata=_meta(
                "correct_sum_of_squares", grade=True, solution=False, locked=True, points=0.5
            ),
        ),  # fmt: skip
        md(
            "---\n## Part C (1 point)\n\nUsing LaTeX math notation, write out the equation that "
            "is implemented by your `sum_of_squares` function."
        ),  # fmt: skip
        md(
            "$\\sum_{i=1}^n i^2$",
            metadata=_meta("sum_of_squares_equation", grade=True, solution=True, points=1),
        ),  # fmt: skip
        md(
            "---\n## Part D (2 points)\n\nFind a usecase for your `sum_of_squares` function and "
            "implement that usecase in the cell below."
        ),  # fmt: skip
        code(
            'def pyramidal_number(n):\n    """Returns the n^th pyramidal number"""\n'
            "    ### BEGIN SOLUTION\n    return sum_of_squares(n)\n    ### END SOLUTION",
            metadata=_meta("sum_of_squares_application", grade=True, solution=True, points=2),
        ),  # fmt: skip
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    return nb


def problem2() -> nbformat.NotebookNode:
    """ps1/problem2.ipynb as the instructor writes it: manually graded answers only (a Markdown
    answer of 2 points, a code answer of 1), no autograded test: a written-only notebook."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("Answer the questions below in the cells given."),
        md(
            "---\n## Part A (2 points)\n\nDescribe, in two sentences, what a test cell of this "
            "problem set checks and what it cannot check."
        ),  # fmt: skip
        md(
            "It checks outputs on fixed inputs; it cannot check every input.",
            metadata=_meta("tests_explained", grade=True, solution=True, points=2),
        ),  # fmt: skip
        md("---\n## Part B (1 point)\n\nWrite a function that returns the cube of `n`."),
        code(
            "def cube(n):\n    ### BEGIN SOLUTION\n    return n ** 3\n    ### END SOLUTION",
            metadata=_meta("cube", grade=True, solution=True, points=1),
        ),  # fmt: skip
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    return nb


def nbgrader_release(nb) -> nbformat.NotebookNode:
    """What nbgrader's own release gives students of `nb`: solution regions as its stubs, the
    manually graded answers as "YOUR ANSWER HERE" (Markdown), hidden tests gone."""
    released = copy.deepcopy(nb)
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown":
            cell.source = "YOUR ANSWER HERE"
        elif meta.get("solution"):
            lines, inside = [], False
            for line in cell.source.split("\n"):
                if "BEGIN SOLUTION" in line:
                    inside = True
                    indent = line[: len(line) - len(line.lstrip())]
                    lines += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
                elif "END SOLUTION" in line:
                    inside = False
                elif not inside:
                    lines.append(line)
            cell.source = "\n".join(lines)
        elif meta.get("grade"):
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip("\n")
    return released


def submitted(released, answers: dict[str, str]) -> dict:
    """A student's ``submitted/<student>/ps1/problem1.ipynb`` (as JSON): `released` with the
    cells of the grade_ids in `answers` written by the student."""
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return json.loads(nbformat.writes(nb))


def write_course(course: Path, *, both: bool = False) -> Path:
    """`course` as a course folder of the kit holding ps1: its spec (a name, a title and the
    notebook; no tasks, data or tiers) and the instructor's notebook in solutions/; with
    `both`, problem2 too, as the assignment ``ps1_problem2`` (one notebook an assignment)."""
    (course / "solutions").mkdir(parents=True)
    notebooks = {"ps1": ("Problem set 1", "problem1.ipynb", problem1)}
    if both:
        notebooks["ps1_problem2"] = ("Problem set 1, problem 2", "problem2.ipynb", problem2)
    for name, (title, notebook, source) in notebooks.items():
        (course / name).mkdir()
        (course / name / "spec.toml").write_text(
            f'name = "{name}"\ntitle = "{title}"\nnotebook = "{notebook}"\n'
        )
        nbformat.write(source(), course / "solutions" / notebook)
    return course
