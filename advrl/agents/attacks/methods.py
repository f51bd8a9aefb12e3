"""The observation attacks: one table from an attack's name to how it perturbs a batch.

``advrl eval --attack <name>`` offers every entry of :data:`ATTACKS`, :class:`ObservationAttack`
applies one, and adversarial training takes its attack (``adversarial.attack``) from the entries
that train. Adding an attack is one function, one :func:`register_attack` call and one test::

    def shifted(attack, policy, obs, generator):
        \"\"\"Every feature moved by +eps (clipped to the bounds).\"\"\"
        low, high = observation_bounds(policy)
        return torch.clamp(obs + attack.eps, low, high)

    register_attack(AttackMethod("shift", "every feature moved by +eps", shifted))

From a module of your own, ``advrl --import my_attacks eval RUN --attack shift --eps 0,0.1``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from advrl.agents.attacks.core import (
    AttackTarget,
    Objective,
    fgsm,
    observation_bounds,
    pgd,
    random_noise,
)
from advrl.agents.attacks.flips import cell_flips
from advrl.agents.attacks.sarsa import sarsa_attack

if TYPE_CHECKING:
    from advrl.agents.attacks.sb3 import ObservationAttack

Perturb = Callable[["ObservationAttack", AttackTarget, torch.Tensor, Any], torch.Tensor]
"""``perturb(attack, policy, obs, generator) -> perturbed obs``: ``attack`` holds the settings
(``eps``, ``norm``, ``objective``, ``steps``, ``step_size``); ``eps`` is above 0."""


@dataclass(frozen=True)
class AttackMethod:
    """One observation attack.

    Attributes:
        name: ``--attack <name>`` and ``ObservationAttack(method=<name>)``.
        help: one line for ``advrl eval --help``.
        perturb: the perturbed batch (:data:`Perturb`).
        objective: the objective when none is given.
        whole_cells: it changes whole cells of the maze's view (``eps`` a number of cells), so
            its observations are real ones and the policy acts on them as observations.
        trains: adversarial training may use it (``adversarial.attack``) for its perturbed
            minibatches.
        needs_adversary: it plays a trained adversary policy (``ObservationAttack.adversary``);
            ``--attack all`` includes it when one is given.
        needs_q: it plays a Q-function of the victim (``ObservationAttack.q``), which an
            evaluation trains for each victim first (robust Sarsa).
    """

    name: str
    help: str
    perturb: Perturb
    objective: Objective = "kl"
    whole_cells: bool = False
    trains: bool = False
    needs_adversary: bool = False
    needs_q: bool = False


def _random(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    return random_noise(policy, obs, attack.eps, norm=attack.norm, generator=g)


def _fgsm(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    return fgsm(policy, obs, attack.eps, objective=attack.objective, norm=attack.norm, generator=g)


def _pgd(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    return pgd(
        policy,
        obs,
        attack.eps,
        objective=attack.objective,
        norm=attack.norm,
        steps=attack.steps,
        step_size=attack.step_size,
        generator=g,
    )


def _critic(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    return _pgd(dataclasses.replace(attack, objective="value"), policy, obs, g)


def _mad(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    return _pgd(dataclasses.replace(attack, objective="kl"), policy, obs, g)


def _learned(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    shape = tuple(getattr(attack.adversary.action_space, "shape", None) or ())
    if shape != tuple(obs.shape[1:]):
        raise ValueError(
            f"the adversary's actions have shape {shape}, this victim's observations "
            f"{tuple(obs.shape[1:])}: give a run of configs/attacker.yaml trained on this victim"
        )
    to_input = getattr(policy, "policy_input", None)  # the adversary sees what the victim takes
    seen = to_input(obs) if callable(to_input) else obs
    action, _ = attack.adversary.predict(seen.detach().cpu().numpy(), deterministic=True)
    direction = torch.as_tensor(action, dtype=obs.dtype, device=obs.device).clamp(-1.0, 1.0)
    low, high = observation_bounds(policy)
    return torch.max(torch.min(obs + attack.eps * direction, high), low)


def _rs(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    if attack.q is None:
        raise ValueError("the rs attack needs the victim's Q-function (advrl eval trains it)")
    return sarsa_attack(attack.q, policy, obs, attack.eps, steps=attack.steps, generator=g)


def _flip(attack: ObservationAttack, policy: AttackTarget, obs: torch.Tensor, g: Any) -> Any:
    if attack.eps != int(attack.eps):
        raise ValueError(f"a flip attack's eps is a number of cells, got {attack.eps}")
    return cell_flips(policy, obs, int(attack.eps), objective=attack.objective)


ATTACKS: dict[str, AttackMethod] = {}
"""Every attack by name, in the order ``--help`` lists them."""


def register_attack(method: AttackMethod) -> AttackMethod:
    """Add an attack to :data:`ATTACKS`; returns it.

    Raises:
        ValueError: the name is taken.
    """
    if method.name in ATTACKS:
        raise ValueError(f"attack {method.name!r} is already registered")
    ATTACKS[method.name] = method
    return method


def attack_method(name: str) -> AttackMethod:
    """The attack called ``name``.

    Raises:
        ValueError: no such attack (the message names them).
    """
    if name not in ATTACKS:
        raise ValueError(
            f"attack method must be one of {', '.join(map(repr, ATTACKS))}, got {name!r}"
        )
    return ATTACKS[name]


register_attack(AttackMethod("random", "uniform noise in the ball (a baseline)", _random))
register_attack(AttackMethod("fgsm", "one signed-gradient step (FGSM; random start for kl)", _fgsm))
register_attack(
    AttackMethod("pgd", "projected gradient ascent from a random start", _pgd, trains=True)
)
register_attack(
    AttackMethod(
        "critic",
        "PGD lowering the policy's own value estimate (Pattanaik et al., 2018)",
        _critic,
        objective="value",
    )
)
register_attack(
    AttackMethod(
        "mad",
        "PGD maximizing the action distribution's KL from the clean one (MAD, SA-PPO)",
        _mad,
    )
)
register_attack(
    AttackMethod(
        "rs",
        "robust Sarsa: lowers the victim's learned Q of the action it takes (SA-PPO)",
        _rs,
        needs_q=True,
    )
)
register_attack(
    AttackMethod(
        "learned",
        "a trained adversary's perturbation (ATLA's optimal attack; --adversary RUN)",
        _learned,
        needs_adversary=True,
    )
)
register_attack(
    AttackMethod(
        "flip",
        "the maze: change up to eps whole cells of the view",
        _flip,
        objective="ce",
        whole_cells=True,
        trains=True,
    )
)
