#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (base image Ubuntu
# 22.04 or 24.04: their python3 is 3.10 / 3.12; the kit runs on 3.10 to 3.13). It installs
# Python, the CPU build of torch (Gradescope machines have no GPU), and the kit that this zip
# carries in $AUTOGRADER_ROOT/source/kit (the kws library, with each assignment's hidden graded tests), then checks
# that the grader loads. Any failure stops the build with a message and a non-zero exit, so a
# broken image is seen when it is built, not when students submit.
#
# Settings (environment; Gradescope sets none of them, so the defaults apply there):
#   AUTOGRADER_ROOT  the unpacked zip's parent                          (default /autograder)
#   KWS_VENV         where the grader's Python environment goes         (default /opt/kws)
#   KWS_PYTHON       the interpreter the environment is made from       (default python3)
#   KWS_SKIP_APT=1   do not apt-get install (also skipped when not root): Python is there
#   KWS_VENV_OPTIONS extra `python -m venv` options (the kit's tests: --system-site-packages)
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${KWS_VENV:-/opt/kws}"
PYTHON="${KWS_PYTHON:-python3}"
STEP="starting"

fail() {
    printf 'setup.sh: FAILED: %s\n' "$*" >&2
    exit 1
}
trap 'code=$?; printf "setup.sh: FAILED while %s (line %s: %s, exit %s)\n" "$STEP" "$LINENO" "$BASH_COMMAND" "$code" >&2' ERR

[ -f "$ROOT/source/kit/pyproject.toml" ] \
    || fail "$ROOT/source/kit/pyproject.toml is missing: upload the zip that 'kws gradescope' wrote"

if [ "${KWS_SKIP_APT:-0}" = 1 ]; then
    echo "setup.sh: KWS_SKIP_APT=1: using the installed $PYTHON"
elif [ "$(id -u)" != 0 ]; then
    echo "setup.sh: not root, so apt-get is skipped: using the installed $PYTHON"
else
    STEP="installing python3, venv and libsndfile with apt"
    command -v apt-get >/dev/null || fail "apt-get not found: choose an Ubuntu base image (22.04 or 24.04) for the autograder"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q python3 python3-pip python3-venv libsndfile1
fi

STEP="checking the Python version"
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found: install Python 3.10 to 3.13"
"$PYTHON" - <<'EOF' || fail "the kit needs Python 3.10 to 3.13: choose Ubuntu 22.04 (3.10) or 24.04 (3.12) as the base image"
import sys

print(f"setup.sh: Python {sys.version.split()[0]} at {sys.executable}")
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)
EOF

STEP="creating the environment $VENV"
# shellcheck disable=SC2086  # KWS_VENV_OPTIONS is a list of options
"$PYTHON" -m venv ${KWS_VENV_OPTIONS:-} "$VENV" || fail "'$PYTHON -m venv $VENV' failed: install python3-venv"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

STEP="installing torch and torchaudio (CPU build)"
# An environment that already imports torch with torchaudio (a base image with them, or the kit's
# own tests: a venv over the system's packages) keeps them: installing the kit then holds them to
# its range, and `python -m kws.compat` below checks the pairing. Otherwise: a pair measured to
# load, exactly (torch's CPU index serves torchaudio 2.11.1 too, which does not load with torch
# 2.11), as CPU wheels, which need no CUDA libraries (and are small); the kit's install keeps it.
# kws.compat.CPU_PAIR from kws.compat.CPU_INDEX: `kws gradescope` writes the line in each zip
TORCH_PAIR=(--index-url https://download.pytorch.org/whl/cpu "torch==2.11.0" "torchaudio==2.11.0")
if "$VENV/bin/python" -c "import torch, torchaudio" >/dev/null 2>&1; then
    echo "setup.sh: keeping the installed torch and torchaudio ($("$VENV/bin/python" -c \
        'import torch, torchaudio; print(torch.__version__, torchaudio.__version__)'))"
else
    "${PIP[@]}" install --quiet "${TORCH_PAIR[@]}"
fi

STEP="installing the kit from $ROOT/source/kit"
"${PIP[@]}" install --quiet "$ROOT/source/kit"

STEP="checking that the grader loads"
cd "$ROOT/source/kit"
"$VENV/bin/python" -m kws.compat  # torch / torchaudio pairing; says what to install instead
WHOLE_COURSE=0  # kws gradescope bakes 1 in when assignments/ is a whole course (KWS_COURSE)
GRADER=("$VENV/bin/python" -m pytest -p kws.grading.plugin -q -p no:cacheprovider --collect-only)
if [ "$WHOLE_COURSE" = 1 ]; then  # the course's assignments, the kit's own left out
    export KWS_COURSE="$ROOT/source/assignments"
    GRADER+=("$ROOT/source/assignments")
elif [ -d "$ROOT/source/assignments" ]; then  # the instructor's own assignment folders
    export KWS_ASSIGNMENTS="$ROOT/source/assignments"
    GRADER+=(kws/assignments "$ROOT/source/assignments")
else
    GRADER+=(kws/assignments)
fi
"${GRADER[@]}" >/dev/null \
    || fail "the grader's tests do not load in $VENV; run '${GRADER[*]}' in $ROOT/source/kit to see why"
echo "setup.sh: the autograder is ready ($VENV)"
