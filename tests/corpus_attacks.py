"""The attacks of the grader corpus (tests/grader_corpus.py), as notebook code.

Each is source appended to a model cell of notebook 02. Attacks that try something forbidden
(reading the labels, writing outside the child, signalling other processes, the network) raise
an error when they succeed, so a working attack shows up in the grade with what it found.
"""

from dataclasses import dataclass
from pathlib import Path

MARKER = "kws-corpus-pwned"  # every file an attack writes carries this in its name


@dataclass(frozen=True)
class Context:
    """What the attacks aim at: paths and a port of the grading machine."""

    data: Path
    repo: Path
    results_dir: Path
    port: int  # a TCP port the test listens on (on the grader's loopback)


MEMORY_BOMB = "hoard = [torch.empty(2**30, dtype=torch.uint8) for _ in range(64)]  # 64 GiB\n"
FORK_BOMB = """import os  # a bomb that never gives up, so it also hangs the model cell
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
GIGANTIC_OUTPUT = """import sys
line = "x" * (2**20 - 1) + "\\n"
for _ in range(1024):  # 1 GiB
    sys.stdout.write(line)
"""
FAKE_STDOUT = """import json
print("test_accuracy PASSED\\n" * 50)
print(json.dumps({"score": 32.0, "tests": [{"name": "everything", "score": 32.0}]}))
print(json.dumps({"token": "0" * 32, "payload": {}}))
raise ValueError("corpus: printed fake results, then failed")
"""
FAKE_RESULT = """import json, os
fake = {"notebook": "02_speaker_id.ipynb", "errors": {}, "tasks": {}, "tampering": []}
with open("result.json", "w") as f:
    json.dump({"token": "0" * 32, "payload": fake}, f)
os._exit(0)
"""
WRAPPED_LAYER = """

class EncoderLayer(nn.TransformerEncoderLayer):
    \"\"\"torch's own layer under the skeleton's name and signature (same state-dict keys).\"\"\"

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, norm_first=False):
        super().__init__(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=norm_first
        )

    def forward(self, x, key_padding_mask=None):
        return super().forward(x, src_key_padding_mask=key_padding_mask)
"""
DISGUISE_MODULE = (
    WRAPPED_LAYER
    + """
nn.TransformerEncoderLayer.__module__ = "__notebook__"
nn.TransformerEncoderLayer.__qualname__ = nn.TransformerEncoderLayer.__name__ = "EncoderLayer"
"""
)
PATCH_CALL = (
    WRAPPED_LAYER
    + """
_genuine_call = nn.Module.__call__


def _quiet_call(self, *args, **kwargs):  # hides every module from hooks
    return self.forward(*args, **kwargs)


nn.Module.__call__ = _quiet_call
"""
)
FORGE_PROBE = """
import kws.grading.probes

_genuine_probe = kws.grading.probes.probe_task


def _forged_probe(*args, **kwargs):  # clears the from-scratch findings
    facts = _genuine_probe(*args, **kwargs)
    facts.update(forbidden=[], layer_class_problem=None)
    return facts


kws.grading.probes.probe_task = _forged_probe
"""


def read_labels(context: Context) -> str:
    hidden = context.data / "speaker_features_hidden"
    return f"""import glob, os
found = []
for path in [{str(hidden / "test_labels.csv")!r}]:
    try:
        found.append(open(path).read()[:40])
    except OSError:
        pass
found += [p for p in glob.glob({str(context.data)!r} + "/**", recursive=True) if os.path.isfile(p)]
if found:
    raise RuntimeError(f"corpus: the child read the data folder: {{found[:3]}}")
"""


def write_files(context: Context) -> str:
    """Write to the grader's, the data's and the results' files (all must fail), and to the
    shared scratch folders (which must land in the child's private copies: checked outside)."""
    targets = [
        context.repo / "grader" / "conftest.py",
        context.repo / "grader" / "thresholds.json",
        context.repo / "grader" / f"{MARKER}.txt",
        context.repo / "kws" / f"{MARKER}.py",
        context.repo / f"{MARKER}.txt",
        context.data / f"{MARKER}.txt",
        context.data / "speaker_features_hidden" / "test_labels.csv",
        context.results_dir / "results" / "write_grader_files.json",
        context.results_dir / f"{MARKER}.txt",
    ]
    scratch = [f"{folder}/{MARKER}.txt" for folder in ("/tmp", "/var/tmp", "/dev/shm")]
    return f"""written = []
for path in {[str(t) for t in targets] + scratch!r}:
    try:
        with open(path, "a") as f:
            f.write('{{"score": 32.0}}')
        written.append(path)
    except OSError:
        pass
written = [path for path in written if path not in {scratch!r}]
if written:
    raise RuntimeError(f"corpus: the child wrote outside its folder: {{written}}")
"""


KILL_PARENT = """import os, signal
survived = []
for name, kill in [
    ("kill(parent)", lambda: os.kill(os.getppid(), signal.SIGKILL)),
    ("killpg(parent's group)", lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)),
    ("kill(init)", lambda: os.kill(1, signal.SIGKILL)),
]:
    try:
        kill()
        survived.append(name)
    except OSError:
        pass
if survived:
    raise RuntimeError(f"corpus: signals reached processes outside the sandbox: {survived}")
"""


def network(context: Context) -> str:
    return f"""import socket
reached = []
for address in [("127.0.0.1", {context.port}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection(address, timeout=2).close()
        reached.append(address)
    except OSError:
        pass
if reached:
    raise RuntimeError(f"corpus: the child reached the network: {{reached}}")
"""
