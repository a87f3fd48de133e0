"""Make the grading child look like a Jupyter kernel to the notebook's model cells, before any
student code runs (`look_like_a_kernel`): a kernel's command line, imports, streams, environment,
threads and ``get_ipython()``, and the kit's grading modules out of ``sys.modules``. What is made
so, and what stays different: docs/reference/threat-model.md.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import io
import os
import socket
import sys
import threading
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

from kws.notebooks import NoShell

# What ipykernel sets in its own environment when it starts (ipykernel 6-7: zmqshell, kernelapp).
IPYKERNEL_ENVIRONMENT = {
    "TERM": "xterm-color",
    "CLICOLOR": "1",
    "CLICOLOR_FORCE": "1",
    "FORCE_COLOR": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "PYDEVD_USE_FRAME_EVAL": "NO",
}
# What a login shell on a Debian or Ubuntu machine adds (PAM, /etc/profile, ~/.bashrc), besides
# SHELL, SHLVL, PWD, OLDPWD, HOSTNAME, MAIL and _ (`kernel_environment`): JupyterLab started from it
# passes them all on to its kernels.
LOGIN_ENVIRONMENT = {
    "LS_COLORS": "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01:ex=01;32",
    "LESSOPEN": "| /usr/bin/lesspipe %s",
    "LESSCLOSE": "/usr/bin/lesspipe %s %s",
    "MOTD_SHOWN": "pam",
    "XDG_SESSION_ID": "1",
    "XDG_SESSION_TYPE": "tty",
    "XDG_SESSION_CLASS": "user",
    "XDG_DATA_DIRS": "/usr/local/share:/usr/share:/var/lib/snapd/desktop",
}
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# The sandbox's settings that did their work when the child started (thread pools are sized,
# the hash seed is drawn, the memory allocators set up: kws.grading.sandbox.run's
# MEMORY_ENVIRONMENT): a kernel started from a shell has none of them.
SANDBOX_ONLY = (
    *("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "KWS_CACHE_DIR"),
    *("MALLOC_MMAP_THRESHOLD_", "THP_MEM_ALLOC_ENABLE"),
)
# The helper threads of an ipykernel 7 kernel, by name and class, besides the main thread.
KERNEL_THREADS = (
    ("IOPub", "threading", "Thread"),
    ("Heartbeat", "ipykernel.heartbeat", "Heartbeat"),
    ("Thread-2 (_watch_pipe_fd)", "threading", "Thread"),
    ("Thread-3 (_watch_pipe_fd)", "threading", "Thread"),
    ("Control", "ipykernel.control", "ControlThread"),
    ("Shell channel", "ipykernel.shellchannel", "ShellChannelThread"),
    ("Thread-1", "ipykernel.parentpoller", "ParentPollerUnix"),
)


def launcher_path() -> str:
    """Where ``ipykernel_launcher.py`` is (beside the ipykernel package), importing ipykernel as
    a kernel has it; the bare name when ipykernel is not installed."""
    try:
        import ipykernel  # its iostream module comes with it (0.1 s); no kernel starts
    except ImportError:
        return "ipykernel_launcher.py"
    return str(Path(ipykernel.__file__).parents[1] / "ipykernel_launcher.py")


def kernel_environment(environ: dict[str, str], parent_pid: int, folder: str) -> dict[str, str]:
    """The environment a kernel started by Jupyter would have, made from the child's `environ`:
    without the sandbox's start-up settings (`SANDBOX_ONLY`), with ipykernel's variables,
    ``JPY_PARENT_PID`` (`parent_pid`), the inline plotting backend where matplotlib-inline is
    installed, and a login shell's variables (`LOGIN_ENVIRONMENT`, and ``PWD``: `folder`)."""
    env = {key: value for key, value in environ.items() if key not in SANDBOX_ONLY}
    env |= IPYKERNEL_ENVIRONMENT | {"JPY_PARENT_PID": str(parent_pid)}
    if importlib.util.find_spec("matplotlib_inline") is not None:
        env["MPLBACKEND"] = INLINE_BACKEND
    shell = {"SHELL": "/bin/bash", "SHLVL": "1", "PWD": folder, "OLDPWD": env.get("HOME", folder)}
    shell |= {"HOSTNAME": socket.gethostname(), "_": str(Path(sys.executable).parent / "jupyter")}
    shell |= {"MAIL": f"/var/mail/{env.get('USER', 'student')}"}
    return env | LOGIN_ENVIRONMENT | shell


class OutStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` (`name`) as a kernel has them (the type ipykernel names
    ``ipykernel.iostream.OutStream``), writing on to the real `stream`."""

    encoding = "UTF-8"

    def __init__(self, stream, name: str):
        super().__init__()
        self._stream, self.name = stream, name
        try:  # a descriptor of its own, as the kernel's (which captures the real one)
            self._fd = os.dup(stream.fileno())
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            self._fd = None

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        if self._fd is None:
            raise io.UnsupportedOperation("fileno")
        return self._fd

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


OutStream.__module__ = "ipykernel.iostream"  # type(sys.stdout) shows as the kernel's does


class KernelShell(NoShell):
    """What ``get_ipython()`` returns to the cells: `kws.notebooks.NoShell` (IPython lines do
    nothing) under the class name of a kernel's shell, ``ipykernel.zmqshell.ZMQInteractiveShell``,
    which the usual "am I in a notebook?" test reads."""


KernelShell.__name__ = KernelShell.__qualname__ = "ZMQInteractiveShell"
KernelShell.__module__ = "ipykernel.zmqshell"


def kernel_namespace(folder: str) -> dict:
    """The names IPython puts in a kernel's namespace before its first cell: the input and
    output histories, ``_dh`` (the working `folder`), the ``_i`` and ``_`` shortcuts, and the
    ``builtins`` module as ``__builtin__`` and ``__builtins__``."""
    inputs: list[str] = [""]
    outputs: dict = {}
    names = {"In": inputs, "_ih": inputs, "Out": outputs, "_oh": outputs, "_dh": [folder]}
    names |= dict.fromkeys(("_i", "_ii", "_iii", "_", "__", "___"), "")
    return names | {"__builtin__": builtins, "__builtins__": builtins}


def main_namespace() -> tuple[dict, KernelShell]:
    """The namespace of a fresh module ``__main__`` (`kernel_namespace`, in the working folder)
    and the shell its ``get_ipython()`` returns, whose ``filename`` the caller sets per cell."""
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module  # dataclasses and pickling look classes up here
    module.__dict__.update(kernel_namespace(os.getcwd()))
    shell = KernelShell(module.__dict__, "")
    module.__dict__["get_ipython"] = lambda: shell
    return module.__dict__, shell


def record_input(namespace: dict, raw: str, parsed: str) -> None:
    """Add a cell to the input history of `namespace` (`kernel_namespace`) as IPython does
    before running it: its `parsed` source (IPython's lines turned into Python) as ``In[n]``,
    its `raw` source as ``_i<n>``, and the raw sources of the three cells before it as ``_i``,
    ``_ii``, ``_iii``."""
    inputs = namespace["_ih"]
    inputs.append(parsed.rstrip("\n"))
    number = len(inputs) - 1
    namespace["_iii"], namespace["_ii"] = namespace["_ii"], namespace["_i"]
    namespace["_i"] = namespace.get(f"_i{number - 1}", "")
    namespace[f"_i{number}"] = raw.rstrip("\n")


def _idle_thread_class(module: str, name: str) -> type[threading.Thread]:
    if (module, name) == ("threading", "Thread"):
        return threading.Thread
    return type(name, (threading.Thread,), {"__module__": module})


def start_kernel_threads() -> list[threading.Thread]:
    """Start the kernel's helper threads (`KERNEL_THREADS`), idle daemons with small stacks that
    wait for ever and end with the process; returns them."""
    never = threading.Event()
    previous = threading.stack_size(256 * 1024)  # idle: a small stack, not the default 8 MiB
    try:
        threads = [
            _idle_thread_class(module, cls)(target=never.wait, name=name, daemon=True)
            for name, module, cls in KERNEL_THREADS
        ]
        for thread in threads:
            thread.start()
    finally:
        threading.stack_size(previous)
    return threads


@contextlib.contextmanager
def hidden_modules(prefix: str) -> Iterator[dict]:
    """Take the modules named `prefix` (a package, ``"kws.grading"``) or below it out of
    ``sys.modules`` (and the package's attribute on its parent) for the time of the block, then
    put them back; yields them by name. Code inside keeps its own references; a module of that
    name imported inside the block (by student code) is dropped at the end."""
    names = [name for name in sys.modules if name == prefix or name.startswith(prefix + ".")]
    hidden = {name: sys.modules.pop(name) for name in names}
    parent_name, _, attribute = prefix.rpartition(".")
    parent = sys.modules.get(parent_name)
    had = parent is not None and attribute in vars(parent)
    if had:
        delattr(parent, attribute)
    try:
        yield hidden
    finally:
        for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
            del sys.modules[name]
        sys.modules.update(hidden)
        if had:
            setattr(parent, attribute, hidden[prefix])


def look_like_a_kernel() -> None:
    """Give the child a kernel's command line, imports, streams, environment and threads
    (module docstring); call once, before the model cells run. Not undone: the child ends
    after grading."""
    runtime = Path.home() / ".local/share/jupyter/runtime"  # a kernel JupyterLab started
    sys.argv = [launcher_path(), "-f", f"{runtime}/kernel-{uuid.uuid4()}.json"]
    sys.orig_argv = [sys.executable, "-m", "ipykernel_launcher", *sys.argv[1:]]
    environment = kernel_environment(dict(os.environ), os.getppid(), os.getcwd())
    os.environ.clear()
    os.environ.update(environment)
    sys.stdout, sys.stderr = OutStream(sys.stdout, "stdout"), OutStream(sys.stderr, "stderr")
    start_kernel_threads()
