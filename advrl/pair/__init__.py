"""Unsupervised environment design: PAIRED, DR, minimax, PLR⊥, ACCEL, REPAIRED, DEGen and SFL."""

from advrl.pair.adversary import Adversary
from advrl.pair.buffer import LevelBuffer
from advrl.pair.levels import LevelFamily, MazeFamily, ParamFamily, family_for
from advrl.pair.runner import UEDRunner
from advrl.pair.scores import (
    max_monte_carlo,
    minimax_score,
    paired_regret,
    positive_value_loss,
)
from advrl.pair.students import RolloutResult, Student, assign_levels
from advrl.pair.teachers import (
    ACCEL,
    PAIRED,
    PLR,
    REPAIRED,
    DomainRandomization,
    Minimax,
    Proposal,
    Teacher,
)

__all__ = [
    "ACCEL",
    "PAIRED",
    "PLR",
    "REPAIRED",
    "Adversary",
    "DomainRandomization",
    "LevelBuffer",
    "LevelFamily",
    "MazeFamily",
    "Minimax",
    "ParamFamily",
    "Proposal",
    "RolloutResult",
    "Student",
    "Teacher",
    "UEDRunner",
    "assign_levels",
    "family_for",
    "max_monte_carlo",
    "minimax_score",
    "paired_regret",
    "positive_value_loss",
]
