"""A private one-node Slurm cluster for a test: Debian's slurm-wlm daemons (slurmctld, slurmd)
and a munged of its own, configured in a temporary folder (own ports, key, state and logs) with
this machine as the node, and stopped with every job they ran when the test ends.

    reason = unavailable()            # None, or why no cluster can run here (the skip reason)
    with one_node_cluster(folder) as env:
        subprocess.run(["sbatch", "--wait", ...], env=env)   # env names the cluster's slurm.conf

Nothing outside `folder` is configured or touched: a Slurm already on the machine keeps running.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "squeue", "scancel")
INSTALL = "apt-get install slurmctld slurmd slurm-client munge (.ci/run does, as root)"


def unavailable() -> str | None:
    """Why a one-node cluster cannot run here, or None."""
    absent = [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name) is None]
    if absent:
        return f"Slurm is not installed ({', '.join(absent)} missing): {INSTALL}"
    if os.geteuid() != 0:
        return (f"slurmd must run as root to start jobs as the submitting user; this test runs "
                f"as uid {os.geteuid()} (run it as root, as CI does)")  # fmt: skip
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


def node_resources() -> tuple[int, int]:
    """(CPUs, MB of memory) the node offers its jobs."""
    return os.cpu_count() or 1, max(256, _memory_mb() - 1024)


def _configuration(folder: Path, node: str, socket_path: Path) -> str:
    control, daemon = _free_ports(2)
    cpus, memory = node_resources()
    settings = {
        "ClusterName": "kwstest",
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "AuthInfo": f"socket={socket_path}",
        "CredType": "cred/munge",
        "SlurmctldPort": control,
        "SlurmdPort": daemon,
        "StateSaveLocation": folder / "state",
        "SlurmdSpoolDir": folder / "spool",
        "SlurmctldPidFile": folder / "slurmctld.pid",
        "SlurmdPidFile": folder / "slurmd.pid",
        "SlurmctldLogFile": folder / "slurmctld.log",
        "SlurmdLogFile": folder / "slurmd.log",
        "ProctrackType": "proctrack/pgid",  # no cgroups needed (containers, CI)
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "SchedulerType": "sched/backfill",
        "ReturnToService": 2,
        "MpiDefault": "none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
    }
    lines = [f"{name}={value}" for name, value in settings.items()]
    lines.append(
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN"
    )
    lines.append(f"PartitionName=kws Nodes={node} Default=YES MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


def _log_tail(folder: Path) -> str:
    logs = [folder / name for name in ("munged.log", "slurmctld.log", "slurmd.log", "daemons.log")]
    return "\n".join(
        f"{path.name}: " + " | ".join(path.read_text(errors="replace").splitlines()[-4:])
        for path in logs
        if path.is_file()
    )


@contextlib.contextmanager
def one_node_cluster(folder: Path, *, start_timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """Start munged, slurmctld and slurmd configured in `folder`; yield the environment whose
    SLURM_CONF points the Slurm commands at them. RuntimeError, with the daemons' last log
    lines, when the node is not idle within `start_timeout` s."""
    folder = Path(folder)
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    socket_path = folder / "munge.socket"
    node = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(_configuration(folder, node, socket_path))
    env = os.environ | {"SLURM_CONF": str(conf)}
    log = open(folder / "daemons.log", "w")
    munged = [
        "munged", "--foreground", "--force", f"--socket={socket_path}", f"--key-file={key}",
        f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
        f"--seed-file={folder / 'munged.seed'}",
    ]  # fmt: skip
    started = []
    try:
        started.append(subprocess.Popen(munged, stdout=log, stderr=log))
        _wait_for(lambda: socket_path.exists(), 10, "munged", folder)
        for daemon in ("slurmctld", "slurmd"):
            started.append(
                subprocess.Popen([daemon, "-D", "-f", str(conf)], stdout=log, stderr=log, env=env)
            )

        def idle() -> bool:
            done = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                  text=True)  # fmt: skip
            return done.stdout.strip() == "idle"

        _wait_for(idle, start_timeout, "the node", folder)
        yield env
    finally:
        subprocess.run(["scancel", "--user", str(os.geteuid())], env=env, capture_output=True)
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait_for(ready, timeout: float, what: str, folder: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the one-node Slurm cluster did not start ({what} not ready after {timeout:g} s): "
                f"{_log_tail(folder)}"
            )
        time.sleep(0.5)
