"""`kws ARGS` typed in a folder, run in the test's own process: what `python -m kws.cli ARGS`
would do there (`kws.cli.main`, the command line ``kws ARGS`` as its lock records it, the
working directory and the environment as given), without an interpreter's start and the kit's
imports for each command (about half a CPU-second each).

For the commands that read and write records (`kws season`, `kws export`, `kws feedback`, `kws
adjust`, `kws report`, ...), whose tests check their exit code, what they print and the files
they write: a test of a command's own process (its signals, a kill, its process group) starts it
as a process (`subprocess`).
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path


def kws_here(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """`kws ARGS` run in `cwd` with `env` (default: this process's), in this process.

    Returns:
        a `subprocess.CompletedProcess` (its args, returncode, stdout and stderr), as
        ``subprocess.run([sys.executable, "-m", "kws.cli", *args], capture_output=True,
        text=True)`` gives it.
    """
    from kws.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = ["kws", *args]
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as end:  # argparse: a bad option (2), or --help (0)
                code = end.code if isinstance(end.code, int) else int(end.code is not None)
                if end.code is not None and not isinstance(end.code, int):
                    print(end.code, file=sys.stderr)
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    command = [sys.executable, "-m", "kws.cli", *args]
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


def python_here(cwd: Path, program: str, env: dict[str, str] | None = None):
    """``python -c PROGRAM`` run in `cwd` with `env` (default: this process's), in this process:
    `program` runs as ``__main__`` (a module of its own, what a notebook's kernel or a script
    has), for a test of what a cell prints.

    Returns:
        a `subprocess.CompletedProcess`, as ``subprocess.run([sys.executable, "-c", program],
        capture_output=True, text=True)`` gives it; an exception the program raises is printed
        to its stderr, its exit code 1.
    """
    import traceback
    import types

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_main = dict(os.environ), os.getcwd(), sys.modules["__main__"]
    main = types.ModuleType("__main__")
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        sys.modules["__main__"] = main
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                exec(compile(program, "<string>", "exec"), vars(main))
                code = 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else int(end.code is not None)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.modules["__main__"] = saved_main
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    command = [sys.executable, "-c", program]
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


def script_here(cwd: Path, script: Path, *args: str):
    """``python SCRIPT ARGS`` run in `cwd`, in this process: `script` runs as ``__main__``
    (`runpy`), and an exit with a message prints it to stderr, as the interpreter does.

    Returns:
        a `subprocess.CompletedProcess`, as ``subprocess.run([sys.executable, SCRIPT, *args],
        capture_output=True, text=True)`` gives it.
    """
    import runpy

    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd, saved_path = sys.argv, os.getcwd(), list(sys.path)
    try:
        sys.argv = [str(script), *args]
        sys.path.insert(0, str(Path(script).parent))  # as the interpreter puts the script's folder
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(str(script), run_name="__main__")
                code = 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else int(end.code is not None)
                if end.code is not None and not isinstance(end.code, int):
                    print(end.code, file=sys.stderr)
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.path[:] = saved_path
    command = [sys.executable, str(script), *args]
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())
