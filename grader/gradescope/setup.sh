#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
# It installs Python, the CPU build of torch (Gradescope machines have no GPU), and the kit
# that this zip carries in /autograder/source/kit (the kws library and the hidden grader).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q python3 python3-pip python3-venv libsndfile1
python3 -m venv /opt/kws
/opt/kws/bin/pip install --quiet --upgrade pip
/opt/kws/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cpu \
    "torch>=2.11,<2.12" "torchaudio>=2.11,<2.12"
/opt/kws/bin/pip install --quiet /autograder/source/kit
