"""Model cells that reach for the grader's machinery are flagged for a person to read."""

import nbformat

from kws.grading.judge.review import review_flags, submission_flags

HONEST = """
import math
import torch
from torch import nn


class EncoderLayer(nn.Module):
    '''Dropout is off in eval mode; `exec` and `inspect` are English words here too.'''

    def forward(self, x):
        self.eval()  # a method, not eval()
        return torch.stack([x, x]).mean(0) * math.sqrt(2)
"""


def _notebook(folder, *sources, name="02_speaker_id.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, metadata={"tags": ["model"]}) for s in sources]
    nb.cells.append(nbformat.v4.new_code_cell("import gc  # not a model cell"))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def test_an_honest_notebook_has_no_flags(tmp_path):
    assert review_flags(_notebook(tmp_path, HONEST)) == []


def test_each_reach_for_the_graders_machinery_is_flagged_with_its_cell(tmp_path):
    path = _notebook(
        tmp_path,
        HONEST,
        "import gc, atexit\natexit.register(print)",
        "import sys\nframe = sys._getframe(1).f_back",
        "import builtins\nbuiltins.open = print",
        "getattr(__import__('g' + 'c'), 'get_objects')",
        "x = eval('1')",
        "hidden = getattr(sys, '_getframe')",
        "run = getattr(builtins, 'exec')",
    )
    flags = review_flags(path)
    assert flags[0] == (
        "02_speaker_id.ipynb, model cell 2: exit handlers (atexit); the garbage collector (gc) "
        "(atexit, gc)"
    )
    assert "model cell 3: frame introspection" in flags[1]
    assert "model cell 4: builtins" in flags[2]
    assert "model cell 5: dynamic imports" in flags[3]
    assert "model cell 6: dynamic code (exec/eval)" in flags[4]
    assert "model cell 7: frame introspection; the process (sys) (_getframe, sys)" in flags[5]
    assert "model cell 8: builtins; dynamic code (exec/eval) (builtins, exec)" in flags[6]
    assert len(flags) == 7


def test_the_submissions_notebook_is_found_inside_subfolders(tmp_path):
    _notebook(tmp_path / "alice" / "hw", "import atexit")
    flags = submission_flags(tmp_path / "alice", "02_speaker_id.ipynb")
    assert flags == ["02_speaker_id.ipynb, model cell 1: exit handlers (atexit) (atexit)"]
    assert submission_flags(tmp_path / "alice", "01_keyword_spotting.ipynb") == []


SIDE_FILE = """
import json
ANSWERS = json.load(open("outputs/kws/answers.json"))
"""
KNOWS_ITS_RUN = """
import sys
GRADED = "ipykernel" not in sys.modules
"""
ENVIRONMENT = "import os\nGRADED = 'JPY_PARENT_PID' not in os.environ"
TABLE = "TABLE = [" + ", ".join(str(i) for i in range(300)) + "]"
ENCODED = "TABLE = '" + "QUJD" * 1100 + "'"
PROSE = '''
class Positions:
    """Sinusoidal positions; open question: load balancing of the glob of heads."""

    def forward(self, pos_embedding, os_like=None):
        return pos_embedding
'''


def test_a_model_cell_that_reads_files_or_looks_at_its_process_is_flagged(tmp_path):
    """Answers from a side file, a model that tells the grader's re-run from the notebook's
    run (imports, environment), and tables written into the code."""
    path = _notebook(tmp_path, HONEST, SIDE_FILE, KNOWS_ITS_RUN, ENVIRONMENT, TABLE, ENCODED)
    assert review_flags(path) == [
        "02_speaker_id.ipynb, model cell 2: loading files (load); opening files (load, open)",
        "02_speaker_id.ipynb, model cell 3: the notebook kernel; the process (sys) "
        "(ipykernel, sys)",
        "02_speaker_id.ipynb, model cell 4: the environment; the process and its files (os) "
        "(environ, os)",
        "02_speaker_id.ipynb, model cell 5: 300 numbers written in the code (a table of "
        "values, not a model)",
        "02_speaker_id.ipynb, model cell 6: a literal of 4400 characters (data written into "
        "the code)",
    ]


def test_words_inside_other_words_and_prose_are_not_flagged(tmp_path):
    """ "os" is in "positions", "open" in a docstring's prose: names only count."""
    assert review_flags(_notebook(tmp_path, PROSE)) == []
