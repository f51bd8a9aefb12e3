"""Agents: SB3 PPO construction, policy networks, observation attacks, adversarial training."""

from advrl.agents.attacks import (
    AttackedVecEnv,
    ObservationAttack,
    attacked_policy,
    fgsm,
    objective_fn,
    pgd,
    random_noise,
)
from advrl.agents.networks import GridFeaturesExtractor
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.ppo import is_grid_space, make_ppo, policy_for
from advrl.agents.robust import ROBUST_TERMS, AdversarialTraining, RobustPPO

__all__ = [
    "ROBUST_TERMS",
    "AdversarialTraining",
    "AttackedVecEnv",
    "GridFeaturesExtractor",
    "ObservationAttack",
    "ObservationNormalizer",
    "RobustPPO",
    "attacked_policy",
    "fgsm",
    "is_grid_space",
    "make_ppo",
    "objective_fn",
    "pgd",
    "policy_for",
    "random_noise",
]
