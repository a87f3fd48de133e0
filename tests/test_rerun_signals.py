"""The grading child looks like a Jupyter kernel to the notebook's model cells.

A model that answers from a table only when the grader re-runs it must first tell the re-run
apart (docs/reference/threat-model.md). The first test reads what a model can cheaply look at
(the cell of benchmarks/bench_rerun_signals.py) in a real Jupyter kernel and in the grading child
under the sandbox the grader uses, and asserts each signal is the kernel's; the next grades a
hand-in whose model cells lean on what changed (``__main__``, pickling, printing, importing the
kit's grading package). The others check the pieces (`kws.grading.child.kernel`) in this process.
"""

import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest
import torch
from grading_helpers import TINY_KWS, make_submission

import kws
from kws.grading.child import kernel
from kws.grading.protocol.child_run import RUN_FILE, ChildRun
from kws.grading.protocol.inputs import save_wave_inputs
from kws.grading.sandbox.run import ChildJob, run_child
from kws.grading.sandbox.supervise import Limits

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rerun_signals.py"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/bench_rerun_signals.py, loaded from its file (benchmarks/ is not a package)."""
    pytest.importorskip("ipykernel", reason="ipykernel is not installed: no kernel to compare")
    spec = importlib.util.spec_from_file_location("bench_rerun_signals", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_model_cell_sees_in_the_grading_child_what_it_sees_in_a_kernel(bench, tmp_path):
    in_kernel, in_child = bench.in_kernel(tmp_path), bench.in_grading_child(tmp_path)
    differ = {name for name in in_kernel if in_child[name] != in_kernel[name]}
    assert differ <= set(bench.UNMATCHABLE), {n: (in_kernel[n], in_child[n]) for n in differ}
    # What the kernel showed, stated: a model keyed on any of these answers as in the notebook.
    assert in_child["the cell's __name__"] == "__main__" and in_child["sys.modules['__main__']"]
    assert in_child["type of sys.stdout"] == "ipykernel.iostream.OutStream"
    assert in_child["type of sys.stderr"] == "ipykernel.iostream.OutStream"
    assert in_child["type of get_ipython()"] == "ZMQInteractiveShell"
    assert in_child["kws.grading imported"] is False
    assert in_child["JPY_* variables"] == ["JPY_PARENT_PID"]
    assert in_child["JPY_PARENT_PID is the parent"] and not in_child["OMP_NUM_THREADS set"]
    assert in_child["threads"] == 1 + len(kernel.KERNEL_THREADS)
    # The two that depend on the machine: the grader's thread limit, a login shell's variables.
    assert in_child["torch threads"] == Limits().threads
    assert in_child["environment variables"] >= 30


HONEST_EXTRAS = """
import dataclasses, pickle, sys
import kws.grading.child.runner  # a fresh copy: the grader's own stays out of reach


@dataclasses.dataclass(frozen=True)
class Settings:
    n_classes: int = 12


if __name__ == "__main__":  # as in a kernel (the test's own build of the model skips it)
    assert pickle.loads(pickle.dumps(Settings())) == Settings()
    assert len(In) == 3 and In[1] == _i1 == "print('setting up')"  # a top-to-bottom run's
    print("model cells ran as __main__", flush=True)
print("a warning", file=sys.stderr, flush=True)
"""


def test_a_hand_in_leaning_on_main_pickling_and_printing_grades_as_before(tmp_path):
    submission = make_submission(
        tmp_path / "alice",
        "01_keyword_spotting.ipynb",
        [("print('setting up')", []), (TINY_KWS + HONEST_EXTRAS, ["model"])],
        {"kws": ("KeywordTransformer", {"n_classes": 12})},
    )
    waves = tmp_path / "waves.bin"
    clips = (torch.randn(4, 16000, generator=torch.Generator().manual_seed(0)) * 3000).short()
    save_wave_inputs(waves, clips, torch.ones(4))
    run = ChildRun("01_keyword_spotting.ipynb", {"kws": "KeywordTransformer"}, 12)
    result = run_child(
        ChildJob(
            ["-m", "kws.grading.child.runner", "{result}", f"{{work}}/{RUN_FILE}"],
            submission=submission,
            inputs={"inputs.bin": waves, RUN_FILE: run.save(tmp_path)},
            limits=Limits(wall_seconds=120, cpu_seconds=120),
        )
    )
    assert result.status == "ok", result.reason + result.stderr_tail
    report = result.payload["tasks"]["kws"]
    assert result.payload["errors"] == {} and report["errors"] == {}
    assert len(report["predictions"]) == 4 and report["facts"]["forbidden"] == []
    assert result.payload["tampering"] == []
    assert "model cells ran as __main__" in result.stdout_tail and "a warning" in result.stderr_tail


def test_hidden_modules_hide_the_package_and_put_it_back():
    ours = sys.modules["kws.grading.child.kernel"]
    with kernel.hidden_modules("kws.grading") as hidden:
        assert not [name for name in sys.modules if name.startswith("kws.grading")]
        assert "grading" not in vars(kws)
        copy = importlib.import_module("kws.grading.protocol.payload")  # as student code may
        assert copy is not hidden.get("kws.grading.protocol.payload")
    assert sys.modules["kws.grading.child.kernel"] is ours
    assert kws.grading is hidden["kws.grading"]
    assert all(sys.modules[name] is module for name, module in hidden.items())


def test_the_environment_is_a_kernels_without_the_sandboxs_start_up_settings():
    sandbox = {"PATH": "/usr/bin", "HOME": "/home/student", "USER": "student", "LANG": "C.UTF-8"}
    sandbox |= {"OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0", "KWS_CACHE_DIR": "/home/x/.cache"}
    env = kernel.kernel_environment(sandbox, 4321, "/home/student/work")
    assert not set(kernel.SANDBOX_ONLY) & set(env)
    assert env["JPY_PARENT_PID"] == "4321" and env["PWD"] == "/home/student/work"
    assert env["TERM"] == "xterm-color" and env["PAGER"] == "cat" and env["SHELL"] == "/bin/bash"
    assert env["PATH"] == "/usr/bin" and env["USER"] == "student"  # what the child needs stays
    assert len(env) >= 25  # a login shell's and Jupyter's variables: about 20


def test_out_stream_writes_on_to_the_real_stream_under_the_kernels_class_name(tmp_path):
    with open(tmp_path / "out.txt", "w") as real:
        stream = kernel.OutStream(real, "stdout")
        assert f"{type(stream).__module__}.{type(stream).__name__}" == (
            "ipykernel.iostream.OutStream"
        )
        assert stream.write("printed\n") == 8 and stream.fileno() not in (0, 1, 2, real.fileno())
        with pytest.raises(TypeError, match="must be str"):
            stream.write(b"bytes")
        print("also printed", file=stream)
        stream.flush()
        os.write(stream.fileno(), b"and through its descriptor\n")
    assert (tmp_path / "out.txt").read_text().splitlines() == [
        "printed",
        "also printed",
        "and through its descriptor",
    ]
    with pytest.raises(io.UnsupportedOperation):
        kernel.OutStream(io.StringIO(), "stderr").fileno()


def test_the_input_history_is_ipythons():
    namespace = kernel.kernel_namespace("/home/student")
    for raw in ("x = 1\n", "!ls\n", "y = 2"):
        parsed = "get_ipython().system('ls')\n" if raw.startswith("!") else raw
        kernel.record_input(namespace, raw, parsed)
    assert namespace["In"] == ["", "x = 1", "get_ipython().system('ls')", "y = 2"]
    assert namespace["_i3"] == "y = 2" and namespace["_i2"] == "!ls"  # the raw source
    # While cell 3 runs: _i is the cell before it, _ii and _iii the two before that.
    assert (namespace["_i"], namespace["_ii"], namespace["_iii"]) == ("!ls", "x = 1", "")
    assert namespace["Out"] == {} and namespace["_dh"] == ["/home/student"]
