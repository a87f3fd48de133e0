"""What a grading child on a CUDA GPU needs of the machine, and nothing more.

`gpu_mounts` lists, for the allow-list (`kws.grading.sandbox.allow`), the GPU's device files, the
folders of the driver's libraries (``libcuda.so*``) outside ``/usr`` and the ``/sys`` folders
NVML and CUDA read (docs/reference/threat-model.md lists them); ``/proc/driver/nvidia`` comes
with every fresh ``/proc``. Everything is looked for under `ROOT`, so that a machine without a GPU
can check the list against a folder of stand-ins (the tests do).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

ROOT = "/"  # where the machine's folders are looked for (a test points it at stand-ins)
DEVICES = (
    "dev/nvidiactl",
    "dev/nvidia[0-9]*",
    "dev/nvidia-uvm",
    "dev/nvidia-uvm-tools",
    "dev/nvidia-modeset",
    "dev/nvidia-caps/*",
    "dev/dxg",  # WSL 2's GPU
)
LIBRARY_FOLDERS = (
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "usr/local/nvidia/lib64",
    "usr/local/nvidia/lib",
    "usr/local/cuda*/lib64",
    "usr/local/cuda*/compat",
    "usr/local/cuda*/targets/*/lib",
)
DRIVER_LIBRARY = "libcuda.so*"
SYS_FOLDERS = (
    "sys/devices",
    "sys/bus/pci",
    "sys/dev/char",
    "sys/module/nvidia",
    "sys/module/nvidia_uvm",
    "sys/module/nvidia_modeset",
)
VISIBLE = ("/usr", "/etc")  # bound for every child already


def gpu_mounts(root: str | None = None) -> list[tuple[str, str, str]]:
    """The mounts a GPU child needs, as (kind, the child's path, the machine's path): "device"
    for each device file, "ro" for each library folder outside /usr and /etc and each /sys
    folder; looked for under `root` (default `ROOT`)."""
    root = root or ROOT
    found = [("device", _inside(source, root), source) for source in device_files(root)]
    for folder in driver_library_folders(root):
        dest = _inside(folder, root)
        if not any(Path(dest).is_relative_to(v) for v in VISIBLE):
            found.append(("ro", dest, folder))
    return found + [("ro", _inside(s, root), s) for s in _found(root, SYS_FOLDERS)]


def device_files(root: str | None = None) -> list[str]:
    """The GPU's device files (`DEVICES`) that exist under `root` (default `ROOT`), as the
    machine's paths; none on a machine without an NVIDIA GPU."""
    return _found(root or ROOT, DEVICES)


def _found(root: str, patterns: tuple[str, ...]) -> list[str]:
    """The paths under `root` that `patterns` match, each pattern's in name order."""
    return [s for pattern in patterns for s in sorted(glob.glob(os.path.join(root, pattern)))]


def driver_library_folders(root: str | None = None) -> list[str]:
    """The folders under `root` that hold the driver's ``libcuda.so*``, each once (the machine's
    paths)."""
    root = root or ROOT
    candidates = [p for pattern in LIBRARY_FOLDERS for p in glob.glob(os.path.join(root, pattern))]
    for conf in sorted(glob.glob(os.path.join(root, "etc/ld.so.conf.d/*.conf"))):
        for line in Path(conf).read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("/"):
                candidates.append(os.path.join(root, line.lstrip("/")))
    candidates += [os.path.join(root, p.lstrip("/")) for p in _loader_path()]
    if root == "/":
        candidates += _ldconfig_folders()
    holding = [
        os.path.realpath(p) for p in candidates if glob.glob(os.path.join(p, DRIVER_LIBRARY))
    ]
    return list(dict.fromkeys(holding))


def library_path() -> list[str]:
    """The grader's ``LD_LIBRARY_PATH`` folders that hold the driver's libraries: the child's
    loader is told them too (its environment is scrubbed)."""
    return [f for f in _loader_path() if glob.glob(os.path.join(f, DRIVER_LIBRARY))]


def _loader_path() -> list[str]:
    """The absolute folders of the grader's ``LD_LIBRARY_PATH``."""
    return [f for f in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if f.startswith("/")]


def _ldconfig_folders() -> list[str]:
    """Folders of ``libcuda.so*`` in the loader's cache (``ldconfig -p``)."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"  # sbin is not on every PATH
    try:
        listing = subprocess.run(
            [ldconfig, "-p"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):  # no ldconfig there either
        return []
    return [
        os.path.dirname(line.rsplit("=>", 1)[1].strip())
        for line in listing.splitlines()
        if line.strip().startswith("libcuda.so") and "=>" in line
    ]


def _inside(path: str, root: str) -> str:
    """`path`, found under `root`, as the child sees it (under /)."""
    return "/" + os.path.relpath(path, root) if root != "/" else path
