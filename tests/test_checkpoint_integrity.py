"""Checkpoints carry their length, a checksum and their step: a damaged or renamed one is skipped
with a warning (the one before it is used), one written before checksums still loads."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from test_ued_cli import tiny_config

from advrl.cli import main
from advrl.files import STATE_MAGIC, checksum, read_state, write_state


def test_a_flipped_byte_is_found_and_an_old_state_still_loads(tmp_path: Path) -> None:
    state = {"w": torch.arange(10_000, dtype=torch.float32), "n": 3}
    write_state(tmp_path / "s.pt", state)
    assert (tmp_path / "s.pt").read_bytes().startswith(STATE_MAGIC)
    assert torch.equal(read_state(tmp_path / "s.pt")["w"], state["w"])
    raw = bytearray((tmp_path / "s.pt").read_bytes())
    raw[len(raw) // 2] ^= 0x10  # inside a tensor: it would still unpickle
    (tmp_path / "s.pt").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged"):
        read_state(tmp_path / "s.pt")
    old = io.BytesIO()
    torch.save(state, old)  # the layout before checksums
    (tmp_path / "old.pt").write_bytes(old.getvalue())
    assert read_state(tmp_path / "old.pt")["n"] == 3


def test_the_checksum_sees_flipped_bits_and_swapped_blocks() -> None:
    data = np.random.default_rng(0).bytes(4 * 32768)  # 4 blocks of 32 KiB
    flipped = bytearray(data)
    flipped[1000] ^= 1
    swapped = data[32768:65536] + data[:32768] + data[65536:]
    assert len({checksum(data), checksum(bytes(flipped)), checksum(swapped)}) == 3


def test_resume_skips_a_damaged_or_renamed_newest_checkpoint(tmp_path: Path) -> None:
    config = tiny_config("dr", tmp_path, total_timesteps=192, eval_every=0, checkpoint_every=64)
    config["train"]["keep_checkpoints"] = 0
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "dr", "--config", str(tmp_path / "c.yaml"), "-q"]) == 0
    run = tmp_path / "dr"
    for case in ("damaged", "renamed"):
        copy = tmp_path / case
        shutil.copytree(run, copy)
        newest = copy / "checkpoints" / "step_192.pt"
        if case == "damaged":
            raw = bytearray(newest.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            newest.write_bytes(bytes(raw))
        else:  # a step-64 state under the newest name
            shutil.copy(copy / "checkpoints" / "step_64.pt", newest)
        more = ["--set", "train.total_timesteps=256"]
        with pytest.warns(RuntimeWarning, match="using the checkpoint before it"):
            assert main(["train", "dr", "--resume", str(copy), "-q", *more]) == 0
        summary = yaml.safe_load((copy / "summary.json").read_text())
        assert summary["resumed_from"] == 128, case
