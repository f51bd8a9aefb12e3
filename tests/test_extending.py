"""Adding a UED method the way the README's "Extending advrl" section shows: one module (a teacher
and its settings), one registry entry, one test. The CLI, config files, ``--help``, checkpoints
and held-out evaluation come with the entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from advrl.cli import main
from advrl.pair import LevelFamily, Proposal, RolloutResult, Teacher
from advrl.pair.methods import TEACHERS, TeacherContext, TeacherMethod, register_teacher
from advrl.pair.teachers import rng_state, set_rng_state


# ------------------------------------------------------------------ the user's module
@dataclass(frozen=True)
class FixedSetSettings:
    """Train on a fixed set of levels (the usual generalization baseline)."""

    set_size: int = 8
    """Distinct levels, drawn once at the start."""


class FixedSet(Teacher):
    """Proposes levels from a set drawn once, in turn."""

    def __init__(self, family: LevelFamily, set_size: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.levels = [family.sample(self.rng) for _ in range(set_size)]
        self.next = 0

    def propose(self, n: int) -> Proposal:
        picked = [self.levels[(self.next + i) % len(self.levels)] for i in range(n)]
        self.next = (self.next + n) % len(self.levels)
        return Proposal(picked)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        return {"set_size": float(len(self.levels))}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "next": self.next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.next = int(state["next"])


def build_fixed_set(settings: FixedSetSettings, ctx: TeacherContext) -> Teacher:
    return FixedSet(ctx.family, settings.set_size, ctx.seed)


# ------------------------------------------------------------------ the test
@pytest.fixture
def fixed_set() -> Iterator[TeacherMethod]:
    method = register_teacher(
        TeacherMethod(
            name="fixedset",
            help="a fixed set of levels",
            settings=FixedSetSettings,
            build=build_fixed_set,
        )
    )
    yield method
    del TEACHERS["fixedset"]  # the registry is global: leave it as found


def test_a_registered_teacher_is_a_cli_method(
    fixed_set: TeacherMethod, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_ued_cli import tiny_config, write

    config = tiny_config("fixedset", tmp_path)
    config["teacher"] = {"set_size": 2}
    assert main(["train", "fixedset", "--config", write(config, tmp_path / "c.yaml")]) == 0
    run = tmp_path / "fixedset"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "fixedset" and summary["last"]["ued/set_size"] == 2.0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["teacher"] == {"set_size": 2}
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "fixedset", "--help"])
    assert "--teacher.set_size" in capsys.readouterr().out


def test_the_teacher_cycles_through_its_set() -> None:
    from advrl.pair import MazeFamily

    family = MazeFamily((5, 5), num_walls=3)
    teacher = FixedSet(family, set_size=3, seed=0)
    first, second = teacher.propose(2), teacher.propose(2)
    assert [lv.to_text() for lv in first.levels + second.levels] == [
        teacher.levels[i].to_text() for i in (0, 1, 2, 0)
    ]


def test_registering_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'plr' is already registered"):
        register_teacher(TEACHERS["plr"])
