"""A hand-in's cells are run as Jupyter would run them: IPython syntax (shell lines, magics, help,
prompts) turned into Python by IPython itself, and plain Python left exactly as IPython leaves it,
without importing IPython in the grading child."""

import subprocess
import sys

import pytest

CELLS = [
    "import torch\nmodel = torch.nn.Linear(2, 3)",  # plain Python, no final newline
    "x = 5 % 3\ny = 'a!b' if x != 2 else '%s' % x  # ! and % inside Python\n",
    "\n\nx = 1\n",  # leading blank lines: IPython drops them
    "!pip install kws\nx = 1\n",
    "files = !ls\n",
    "%time x = 1\n",
    "%%capture\nx = 1\n",
    "if True:\n    !nvidia-smi\n",
    "torch.nn.Linear?\n",
    ">>> x = 1\n",
]


@pytest.mark.parametrize("source", CELLS)
def test_a_cell_reads_as_jupyter_reads_it(source):
    """The grader runs each model cell as Jupyter would: IPython's own transformation, which it
    skips (importing IPython costs a third of a CPU-second) where that changes nothing."""
    from IPython.core.inputtransformer2 import TransformerManager

    from kws.notebooks import python_source

    assert python_source(source) == TransformerManager().transform_cell(source)


def test_plain_python_cells_do_not_import_ipython():
    code = (
        "import sys\nfrom kws.notebooks import python_source\n"
        f"for cell in {CELLS[:2]!r}:\n    compile(python_source(cell), 'cell', 'exec')\n"
        "print('IPython' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


@pytest.mark.parametrize(
    "source", ["x = " + "-" * 20_000 + "1\n", "a" + ".b" * 20_000 + "\n"], ids=["deep", "long"]
)
def test_a_cell_too_deep_for_the_parser_does_not_stop_the_grader(source):
    """A hostile cell that makes Python's parser give up (memory, recursion) is handed on as
    IPython hands it on, for the child's compile to report, never raised in the grader."""
    from kws.notebooks import python_source

    assert python_source(source).startswith(source[:10])
