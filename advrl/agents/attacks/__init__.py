"""Observation attacks on SB3 actor-critic policies: random noise, FGSM, PGD and the maze's cell
flips, in one table (:data:`~advrl.agents.attacks.methods.ATTACKS`).

An attack maps (policy, observations) to perturbed observations inside an epsilon ball around them
(L-inf by default, or L2), clipped to the observation space's finite bounds. It never touches an
environment: it changes what the policy sees. Under SB3's ``VecNormalize`` the attacks perturb the
env's raw observation, in the env's units and bounds, and the policy takes its normalization
(:class:`~advrl.agents.obs_normalization.ObservationNormalizer`, through
:class:`~advrl.agents.policy_inputs.PolicyInput`): :class:`AttackedVecEnv` directly above the
``VecNormalize``, or ``normalizer`` in :func:`attacked_actions`.

Objectives, each maximized by the attacker:

- ``"kl"``: ``KL(pi(.|s) || pi(.|s + delta))``, push the action distribution away from the clean one;
- ``"ce"``: ``-log pi(a|s + delta)`` of the clean greedy action ``a``: make the chosen action unlikely;
- ``"value"``: ``-V(s + delta)``: make the critic pessimistic.

The KL objective has a zero gradient at ``delta = 0``, so FGSM on it starts from a uniformly random
point in the ball (FGSM-RS); PGD starts at random by default for every objective.

Supported: ``Box`` observations (vector or image tensors the policy takes directly), discrete and
continuous actions. The maze's integer view is attacked through its one-hot features: pass a
:class:`~advrl.agents.policy_inputs.PolicyInput` where a policy is expected (as
:func:`attacked_actions` and :func:`attacked_policy` do). :class:`AttackedVecEnv` produces
observations, so it takes ``Box`` observations only.
"""

from advrl.agents.attacks.core import (
    AttackTarget,
    Norm,
    Objective,
    distribution_kl,
    fgsm,
    input_gradient,
    objective_fn,
    observation_bounds,
    pgd,
    project,
    random_noise,
    random_start_point,
)
from advrl.agents.attacks.flips import FLIP_TYPES, cell_flips
from advrl.agents.attacks.methods import ATTACKS, AttackMethod, attack_method, register_attack
from advrl.agents.attacks.sb3 import (
    AttackedVecEnv,
    ObservationAttack,
    attacked_actions,
    attacked_policy,
    integral_toward,
    seen_observations,
)

__all__ = [
    "ATTACKS",
    "FLIP_TYPES",
    "AttackMethod",
    "AttackTarget",
    "AttackedVecEnv",
    "Norm",
    "Objective",
    "ObservationAttack",
    "attack_method",
    "attacked_actions",
    "attacked_policy",
    "cell_flips",
    "distribution_kl",
    "fgsm",
    "input_gradient",
    "integral_toward",
    "objective_fn",
    "observation_bounds",
    "pgd",
    "project",
    "random_noise",
    "random_start_point",
    "register_attack",
    "seen_observations",
]
