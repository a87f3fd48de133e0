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
# A bomb that never gives up, so it also hangs the model cell. At the process limit each process
# waits before trying again: spinning would only load the machine running the tests (at 0.05 s,
# its 256 processes took half a core until the wall clock; the sandbox is tested the same).
FORK_BOMB = """import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.5)
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
nn.TransformerEncoderLayer.__module__ = "__main__"  # the notebook's module
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
import kws.tracing.probes

_genuine_probe = kws.tracing.probes.probe_facts


def _forged_probe(*args, **kwargs):  # clears the from-scratch findings
    facts = _genuine_probe(*args, **kwargs)
    facts.update(forbidden=[], layer_class_problem=None)
    return facts


kws.tracing.probes.probe_facts = _forged_probe
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
        context.repo / "kws" / "assignments" / "keyword_spotting" / "spec.toml",
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


KILL_PARENT = """import os, signal, time
killed = []
for name, pid, kill in [
    ("kill(parent)", os.getppid(), lambda pid: os.kill(pid, signal.SIGKILL)),
    ("killpg(parent's group)", os.getppid(), lambda pid: os.killpg(os.getpgid(pid), signal.SIGKILL)),
    ("kill(init)", 1, lambda pid: os.kill(pid, signal.SIGKILL)),
]:
    try:
        kill(pid)
    except OSError:
        continue  # refused: not ours to signal (another user id)
    # Sent is not delivered: without root the sandbox's processes share the child's user id, and
    # the init of its PID namespace (the child's parent) silently drops a SIGKILL from inside.
    time.sleep(0.2)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        killed.append(name)
    except PermissionError:
        pass
if killed:
    raise RuntimeError(f"corpus: signals killed processes outside the sandbox: {killed}")
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


# ---- attacks on the integrity of what the child reports (issue 9) -----------------------------

GRADED_LINE = "        h = self.encoder(self.prenet(x), padding)  # (B, T, D)\n"


def trace_aware(detect: str) -> tuple[str, str]:
    """(old, new) for SpeakerTransformer's cell: its own layers while traced, and six
    torch.nn layers mixed into the graded predictions otherwise (`detect` is True when traced).

    The torch layers live outside the state dict, so the checkpoint still loads strictly; their
    share is small, so the graded accuracy is the reference's and only the structure is forged.
    """
    new = (
        GRADED_LINE
        + f"        if not ({detect}):  # not traced: these are the graded predictions\n"
        + "            h = h + 1e-3 * _TORCH_LAYERS[0](h, src_key_padding_mask=padding)\n"
    )
    return GRADED_LINE, new


TORCH_LAYERS = """
import inspect
import sys

torch.manual_seed(0)
_TORCH_LAYERS = [
    nn.TransformerEncoder(
        nn.TransformerEncoderLayer(64, 4, 256, 0.0, batch_first=True), 6, enable_nested_tensor=False
    ).eval()
]
"""
DETECT_PROFILER = "sys.getprofile() is not None"
DETECT_MODE = "torch._C._len_torch_function_stack() > 0"
DETECT_CALLER = "any(f.function == 'trace_forward' for f in inspect.stack(0))"

ATEXIT_FORGE = """
import atexit
import gc
import json


def _forge():  # rewrite the result after the grader wrote it, with the token found by gc
    channel = next(o for o in gc.get_objects() if type(o).__name__ == "ResultChannel")
    fake = {"notebook": "02_speaker_id.ipynb", "errors": {}, "tasks": {}, "tampering": []}
    with open("result.json", "w") as f:
        json.dump({"token": channel._token, "payload": fake}, f)


atexit.register(_forge)
"""
PATCH_STDLIB = """
import builtins
import json

_real_dump, _real_open = json.dump, builtins.open


def _clean(value):  # clear every finding on its way out
    if isinstance(value, dict):
        return {k: [] if k in ("forbidden", "tampering") else _clean(v) for k, v in value.items()}
    return value


json.dump = lambda obj, fp, **kw: _real_dump(_clean(obj), fp, **kw)
builtins.open = lambda *args, **kw: _real_open(*args, **kw)
"""
BUFFER_OLD = "            for _ in range(num_layers)\n        )\n"
BUFFER_NEW = (
    BUFFER_OLD + '        self.register_buffer("memory", torch.zeros(2_370_000))  # trained\n'
)
EXTRA_LAYERS = 5  # outside .encoder, under another class name: 3 + 5 = 8 layers run


def extra_layers(source: str) -> str:
    """SpeakerTransformer's cell with EXTRA_LAYERS copies of EncoderLayer named Refiner, kept in
    `self.refiner` (not `self.encoder`) and run after the encoder."""
    start = source.index("class EncoderLayer(nn.Module):")
    end = source.index("\n\nclass Encoder(")
    refiner = source[start:end].replace("class EncoderLayer(", "class Refiner(")
    source = source[:end] + "\n\n\n" + refiner + source[end:]
    init = "        self.encoder = Encoder(d_model, nhead, dim_feedforward, num_layers, dropout)\n"
    assert source.count(init) == 1 and source.count(GRADED_LINE) == 1
    source = source.replace(
        init,
        init
        + "        self.refiner = nn.ModuleList(\n"
        + f"            Refiner(d_model, nhead, dim_feedforward, 0.0, True) for _ in range({EXTRA_LAYERS})\n"
        + "        )\n",
    )
    return source.replace(
        GRADED_LINE,
        GRADED_LINE + "        for layer in self.refiner:\n            h = layer(h, padding)\n",
    )


def refiner_state(cell_source: str, kwargs: dict, state: dict) -> dict:
    """The checkpoint of the model with Refiner layers: the reference's weights, and Refiner
    layers whose output projections are zero (pre-norm, so each is exactly the identity). Their
    other weights are drawn from a seed of their own: the same bytes in every test run, whatever
    ran before in the process (a grading child's record is keyed by them)."""
    import torch

    namespace: dict = {"__name__": "corpus_refiner"}
    exec(compile(cell_source, "<corpus refiner>", "exec"), namespace)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = namespace["SpeakerTransformer"](**kwargs)
    model.load_state_dict(state, strict=False)
    full = model.state_dict()
    for key in full:
        if key.startswith("refiner.") and ("out_proj." in key or "linear2." in key):
            full[key] = torch.zeros_like(full[key])
    return full


def read_kit_and_results(context: Context) -> str:
    """Read the kit's reference solution and .git, and other students' results: a model cell
    that raises what it read would show it in every visible failure message."""
    targets = [
        context.repo / "solutions" / "02_speaker_id.ipynb",
        context.repo / ".git" / "HEAD",
        context.repo / "grader" / "conftest.py",
    ]
    return f"""import glob
found = []
for path in {[str(t) for t in targets]!r} + glob.glob({str(context.results_dir)!r} + "/**/*.json", recursive=True):
    try:
        found.append(path + ": " + open(path).read(60))
    except OSError:
        pass
if found:
    raise RuntimeError(f"corpus: the child read the kit or other results: {{found[:2]}}")
"""


SEE_OTHER_PROCESSES = """import glob, os
others = []
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    if cmdline in ("/proc/1/cmdline", f"/proc/{os.getpid()}/cmdline"):
        continue
    try:
        text = open(cmdline, "rb").read().decode(errors="replace")
    except OSError:
        continue
    if "submission" in text or "pytest" in text:
        others.append(text.replace("\\0", " ")[:120])
if others:
    raise RuntimeError(f"corpus: the child saw other command lines: {others[:2]}")
"""
