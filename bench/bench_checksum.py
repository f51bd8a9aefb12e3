"""The cost of a checkpoint's checksum against writing the checkpoint (``advrl.files``).

    python bench/bench_checksum.py [CHECKPOINT]   # default: a synthetic 17 MB state

Writes the state with ``write_state`` (serialization, checksum, fsync, rename) and times
``checksum`` on its serialized bytes, interleaved; prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from advrl.files import checksum, read_state, write_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", help="an advrl checkpoint (default: synthetic)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.checkpoint:
        state = read_state(Path(args.checkpoint))
    else:  # about the size of a long UED run's checkpoint
        state = {"weights": torch.randn(4_300_000), "step": 1}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    writes, sums = [], []
    with tempfile.TemporaryDirectory(dir=".") as folder:
        for _ in range(args.repeats):
            t = time.perf_counter()
            write_state(Path(folder) / "state.pt", state)
            writes.append(time.perf_counter() - t)
            t = time.perf_counter()
            checksum(data)
            sums.append(time.perf_counter() - t)
    write, total = float(np.median(writes)), float(np.median(sums))
    print(
        f"{len(data) / 1e6:.1f} MB: write_state {write * 1e3:.1f} ms, checksum {total * 1e3:.2f} "
        f"ms ({100 * total / write:.1f}% of the write; medians of {args.repeats})"
    )


if __name__ == "__main__":
    main()
