#!/usr/bin/env bash
# GPU checks of the UED loop, one script for one H100/H200 (under 8 minutes):
#   1. the CUDA equivalence tests of the batched envs (BatchedMaze, BatchedMazeDesigner vs MazeEnv);
#   2. raw BatchedMaze stepping at N = 4,096 and 65,536 (VecEnv and tensor APIs);
#   3. PAIRED iterations on the paper maze (configs/paired-maze.yaml), LSTM-256 and feed-forward
#      agents, every agent and env on the GPU, with the time of each agent's rollout and update;
#   4. a timed PAIRED slice: `advrl train paired` on the paper maze for 4 iterations.
# Results go to stdout and, as JSON, to $OUT (default gpu-check-out/). DEVICE=cpu runs the same
# steps on the CPU (slowly), to check the script itself.
#
# The device machine has PyTorch but not gymnasium, SB3, sb3-contrib or minigrid: fetch their
# wheels here first with bench/gpu_wheels.sh (into .whl/, ignored by git) and carry .whl.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/advrl-site .whl/*.whl
    export PYTHONPATH=/tmp/advrl-site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }

stamp "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"

stamp "1. CUDA equivalence of the batched envs"
timeout 180 python3 -m pytest -q -p no:cacheprovider -k "$DEVICE" \
    tests/test_batched_maze.py tests/test_batched_designer.py

stamp "2. raw stepping"
timeout 90 python3 bench/bench_batched_maze.py --device "$DEVICE" --sizes 4096 65536 --seconds 2 \
    --repeats 2 | tee "$OUT/raw_stepping.md"

GPU=(--set "env.device=$DEVICE" --set "protagonist.ppo.device=$DEVICE"
     --set "antagonist.ppo.device=$DEVICE" --set "adversary.ppo.device=$DEVICE")
FF=(--set protagonist.policy.lstm_hidden=null --set antagonist.policy.lstm_hidden=null
    --set adversary.policy.lstm_hidden=null --set protagonist.policy.lstm_shared=false
    --set antagonist.policy.lstm_shared=false --set adversary.policy.lstm_shared=false)
stamp "3. PAIRED iterations on the paper maze, LSTM-256 agents"
timeout 150 python3 bench/bench_ued_iteration.py --config configs/paired-maze.yaml "${GPU[@]}" \
    --warmup 1 --iterations 3 --json "$OUT/paired_lstm.json"
stamp "3. PAIRED iterations on the paper maze, feed-forward agents"
timeout 90 python3 bench/bench_ued_iteration.py --config configs/paired-maze.yaml "${GPU[@]}" \
    "${FF[@]}" --warmup 1 --iterations 5 --json "$OUT/paired_ff.json"
stamp "3. PAIRED iterations on the paper maze, feed-forward agents, 256 levels per iteration"
timeout 90 python3 bench/bench_ued_iteration.py --config configs/paired-maze.yaml "${GPU[@]}" \
    "${FF[@]}" --set env.num_levels=256 --warmup 1 --iterations 2 --json "$OUT/paired_ff_256.json"

stamp "4. a timed PAIRED slice: advrl train paired, paper maze, LSTM-256, 4 iterations"
runs=$(mktemp -d)
slice_start=$(date +%s)
timeout 150 python3 -m advrl.cli train paired --config configs/paired-maze.yaml "${GPU[@]}" \
    --set train.total_timesteps=32768 --set train.eval_every=0 --set train.image_every=0 \
    --set train.checkpoint_every=0 --set train.eval_episodes=2 --set "out_dir=$runs" \
    | tail -n 20
echo "slice wall-clock: $(( $(date +%s) - slice_start )) s (4 iterations, final held-out evaluation included)"
cp "$runs"/*/summary.json "$OUT/slice_summary.json" 2>/dev/null || true
stamp "done"
