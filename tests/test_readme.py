"""The README runs as written: each Python block on its own, and the Quick tour's commands in a
fresh folder (with shortened budgets)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from advrl.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

SHORT = ["train.total_timesteps=2048", "train.eval_every=0", "train.eval_episodes=2"]
"""Appended to every training command of the Quick tour: one or two iterations each."""


def test_readme_python_blocks_run_each_on_its_own() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    from advrl.agents.attacks import ATTACKS
    from advrl.agents.robust import ROBUST_TERMS
    from advrl.gail.methods import IMITATION
    from advrl.pair.methods import TEACHERS

    tables = [TEACHERS, ATTACKS, IMITATION, ROBUST_TERMS]  # global: left as found
    saved = [dict(table) for table in tables]
    namespaces = []
    try:
        for block in blocks:
            namespace: dict = {}  # nothing carried over from the block before
            exec(compile(block, str(README), "exec"), namespace)
            namespaces.append(namespace)
        assert "fixedset" in TEACHERS  # "Extending advrl" registers a teacher
        assert "shift" in ATTACKS and "tinygail" in IMITATION and "smooth" in ROBUST_TERMS
    finally:
        for table, entries in zip(tables, saved, strict=True):
            table.clear()
            table.update(entries)
    assert namespaces[0]["level"].shortest_path_length() == 8
    import gymnasium as gym

    env = gym.make("mine/WindyMountainCar-v0")
    _, info = env.reset(seed=0, options={"level": {"gravity": 0.004}})
    assert info["level"]["gravity"] == 0.004 and env.unwrapped.gravity == 0.004


def quick_tour() -> list[list[str]]:
    text = README.read_text().split("## Quick tour", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


def shortened(words: list[str]) -> list[str]:
    """A tour command's arguments, a training command's with the short budget (the last
    ``--set`` of a key wins)."""
    args = words[1:]
    if args[0] == "train" or args[:2] == ["expert", "train"]:
        short = list(SHORT)
        if "--resume" in args:  # it goes on further than the run before
            short[0] = "train.total_timesteps=4096"
        args = [*args, *(x for item in short for x in ("--set", item)), "--quiet"]
    return args


def test_quick_tour_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")  # advrl plot
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    commands = quick_tour()
    assert commands[-1][0] == "tensorboard"  # a server: not run here
    ran = []
    for words in commands[:-1]:
        assert words[0] == "advrl", words
        args = shortened(words)
        code = main(args)
        out = capsys.readouterr()
        assert code == 0, (words, out.err[-2000:])
        ran.append(" ".join(args[:2]))
    assert (tmp_path / "labyrinth.gif").is_file() and (tmp_path / "labyrinth.png").is_file()
    assert (tmp_path / "plots" / "learning_curves.png").is_file()
    assert (tmp_path / "demos" / "cartpole.npz").is_file()
    for run in ("ppo-maze", "dr", "paired", "robust", "expert-cartpole"):
        assert (tmp_path / "runs" / run / "summary.json").is_file(), run
    assert len(ran) == len(commands) - 1


def test_the_env_table_names_every_registered_id() -> None:
    """`advrl envs` lists nothing the README's env table leaves out (``Maze-<Name>-v0`` stands for
    the held-out mazes it names, ``-DR-v1`` for the physics envs' random-physics twins)."""
    import gymnasium as gym

    import advrl.envs  # noqa: F401  (registers the ids)

    table = README.read_text().split("## Environments", 1)[1].strip().split("\n\n", 1)[0]
    named = set(re.findall(r"`(advrl/[\w-]+)`", table))
    held_out = next(row for row in table.splitlines() if "advrl/Maze-<Name>-v0" in row)
    for name in re.findall(r"\b([A-Z][A-Za-z0-9]+)\b", held_out.split("|")[2]):
        named.add(f"advrl/Maze-{name}-v0")
    for size in ("Small", "Medium", "Large", "XL"):  # "PerfectMazeSmall/Medium/Large/XL"
        named.add(f"advrl/Maze-PerfectMaze{size}-v0")
    named |= {n.replace("-v1", "-DR-v1") for n in named if n.endswith("-v1")}
    registered = {i for i in gym.registry if i.startswith("advrl/")}
    assert registered - named == set()
    assert named & registered >= {"advrl/Maze-v0", "advrl/Maze-Labyrinth-v0"}
