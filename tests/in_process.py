"""`kws ARGS` typed in a folder (and a script or ``python -c``), run in the test's own process:
what `python -m kws.cli ARGS` would do there (`kws.cli.main`, the command line ``kws ARGS`` as
its lock records it, the working directory and the environment as given), without an
interpreter's start and the kit's imports for each command (about half a CPU-second each).

For the commands that read and write records (`kws season`, `kws export`, `kws feedback`, `kws
adjust`, `kws report`, ...), whose tests check their exit code, what they print and the files
they write: a test of a command's own process (its signals, a kill, its process group) starts it
as a process (`subprocess`).
"""

import contextlib
import io
import os
import runpy
import subprocess
import sys
import traceback
import types
from pathlib import Path


def _as_its_own_process(
    command: list[str],
    cwd: Path,
    env: dict[str, str] | None,
    run,
    *,
    argv: list[str],
    path_first: str | None = None,
    crash_exits: bool = False,
) -> subprocess.CompletedProcess:
    """`run()` in `cwd` with `env` (default: this process's) and `argv`, `path_first` ahead of
    `sys.path` and a ``__main__`` module of its own, as `command` would run in a process of its
    own: its output captured, its exit code the interpreter's (a `SystemExit`'s, its message
    printed to stderr; `crash_exits`: an exception's traceback printed, code 1). All of it is
    restored afterwards."""
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    saved_path, saved_main = list(sys.path), sys.modules["__main__"]
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = argv
        if path_first is not None:
            sys.path.insert(0, path_first)
        sys.modules["__main__"] = types.ModuleType("__main__")
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run() or 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else int(end.code is not None)
                if end.code is not None and not isinstance(end.code, int):
                    print(end.code, file=sys.stderr)
            except Exception:
                if not crash_exits:
                    raise
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        sys.modules["__main__"] = saved_main
        sys.path[:] = saved_path
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


def kws_here(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """`kws ARGS` run in `cwd` with `env` (default: this process's), in this process (argparse
    exits with 2 on a bad option, 0 after --help).

    Returns:
        a `subprocess.CompletedProcess` (its args, returncode, stdout and stderr), as
        ``subprocess.run([sys.executable, "-m", "kws.cli", *args], capture_output=True,
        text=True)`` gives it.
    """
    from kws.cli import main

    command = [sys.executable, "-m", "kws.cli", *args]
    return _as_its_own_process(command, cwd, env, lambda: main(list(args)), argv=["kws", *args])


def python_here(cwd: Path, program: str, env: dict[str, str] | None = None):
    """``python -c PROGRAM`` run in `cwd` with `env` (default: this process's), in this process:
    `program` runs as ``__main__`` (a module of its own, what a notebook's kernel or a script
    has), for a test of what a cell prints.

    Returns:
        a `subprocess.CompletedProcess`, as ``subprocess.run([sys.executable, "-c", program],
        capture_output=True, text=True)`` gives it; an exception the program raises is printed
        to its stderr, its exit code 1.
    """

    def run() -> None:
        exec(compile(program, "<string>", "exec"), vars(sys.modules["__main__"]))

    command = [sys.executable, "-c", program]
    return _as_its_own_process(command, cwd, env, run, argv=["-c"], crash_exits=True)


def script_here(cwd: Path, script: Path, *args: str):
    """``python SCRIPT ARGS`` run in `cwd`, in this process: `script` runs as ``__main__``
    (`runpy`), its folder first on `sys.path` as the interpreter puts it, and an exit with a
    message prints it to stderr, as the interpreter does.

    Returns:
        a `subprocess.CompletedProcess`, as ``subprocess.run([sys.executable, SCRIPT, *args],
        capture_output=True, text=True)`` gives it.
    """

    def run() -> None:
        runpy.run_path(str(script), run_name="__main__")

    command = [sys.executable, str(script), *args]
    argv, folder = [str(script), *args], str(Path(script).parent)
    return _as_its_own_process(command, cwd, None, run, argv=argv, path_first=folder)
