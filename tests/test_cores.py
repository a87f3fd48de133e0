"""`kws demo`'s core shares: the cores a finished notebook leaves go to the ones still running,
and a running kernel's trainings take them up at their next optimizer step."""

import nbformat

from kws.demo.cores import CoreShares, kernel_startup, own_threads
from kws.notebooks import execute_notebook


def test_the_last_notebook_running_gets_every_core(tmp_path):
    shares = CoreShares(tmp_path, cores=2)
    files = {name: shares.start(name) for name in ("01.ipynb", "02.ipynb", "03.ipynb")}
    assert shares.threads() == {"01.ipynb": 1, "02.ipynb": 1, "03.ipynb": 1}
    shares.end("01.ipynb")
    assert shares.threads() == {"02.ipynb": 1, "03.ipynb": 1}
    shares.end("02.ipynb")
    assert shares.threads() == {"03.ipynb": 2}
    assert files["03.ipynb"].read_text() == "2\n"
    assert files["02.ipynb"].read_text() == "1\n"  # an ended notebook's file is left as it was


def test_three_cores_for_two_notebooks_go_first_to_the_one_started_first(tmp_path):
    shares = CoreShares(tmp_path, cores=3)
    shares.start("a.ipynb")
    shares.start("b.ipynb")
    assert shares.threads() == {"a.ipynb": 2, "b.ipynb": 1}


def test_no_notebook_gets_more_threads_than_the_demo_was_given(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a test worker beside another, on 2 cores
    shares = CoreShares(tmp_path, cores=2, most=own_threads())
    shares.start("01.ipynb")
    shares.start("02.ipynb")
    shares.end("01.ipynb")
    assert shares.threads() == {"02.ipynb": 1}
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert own_threads() is None and CoreShares(tmp_path, cores=2, most=None).most == 2


def test_a_running_kernel_takes_up_its_new_share_at_its_next_optimizer_step(tmp_path):
    threads = tmp_path / "nb.threads"
    threads.write_text("1\n")
    step = (
        "import torch\n"
        "w = torch.nn.Parameter(torch.ones(3))\n"
        "opt = torch.optim.SGD([w], lr=0.1)\n"
        "w.sum().backward()\n"
        "opt.step()\n"
        "print(torch.get_num_threads())"
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(step),
        nbformat.v4.new_code_cell(f"open({str(threads)!r}, 'w').write('2')\n" + step),
        nbformat.v4.new_code_cell("print(sorted(n for n in dir() if not n.startswith('_')))"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, str(path))
    done = execute_notebook(
        path, env={"OMP_NUM_THREADS": "1"}, kernel_startup=kernel_startup(threads)
    )
    printed = [cell.outputs[0]["text"].strip() for cell in done.cells]
    assert printed[:2] == ["1", "2"]
    assert "kws" not in printed[2]  # the start-up line binds no name in the notebook
