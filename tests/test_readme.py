"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    from advrl.pair.methods import TEACHERS

    methods = dict(TEACHERS)
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
        assert "fixedset" in TEACHERS  # "Extending advrl" registers a teacher
    finally:
        TEACHERS.clear()
        TEACHERS.update(methods)  # the registry is global: leave it as found
    assert namespace["level"].shortest_path_length() == 8
    import gymnasium as gym

    env = gym.make("mine/WindyMountainCar-v0")
    _, info = env.reset(seed=0, options={"level": {"gravity": 0.004}})
    assert info["level"]["gravity"] == 0.004 and env.unwrapped.gravity == 0.004
