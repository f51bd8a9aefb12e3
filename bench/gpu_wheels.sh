#!/usr/bin/env bash
# Wheels that bench/gpu_check.sh needs on the device machine (it has PyTorch, not these), for its
# Python 3.12, into .whl/ (ignored by git). Run here, then carry .whl with the check.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 -d .whl \
    gymnasium==1.4.0 farama-notifications==0.0.6 stable-baselines3==2.9.2 sb3-contrib==2.9.2 \
    minigrid==3.2.0 pygame-ce==2.5.8  # minigrid imports pygame
ls -la .whl
