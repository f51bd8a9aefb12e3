"""DAC's absorbing state (Kostrikov et al. 2019, "Discriminator-Actor-Critic"): GAIL without the
reward bias at episode ends.

An episode that *terminates* (not one cut by a time limit) goes on, in DAC's MDP, into an absorbing
state ``s_a`` that loops on itself whatever the action; the discriminator scores ``s_a`` as one more
state, from both the expert's and the generator's terminated episodes. The return of a terminated
episode then counts the reward of staying in ``s_a`` for ever:

    R_T = r(s_T, a_T) + sum_{k >= 1} gamma^k r(s_a) = r(s_T, a_T) + gamma r(s_a) / (1 - gamma)

so ending an episode is worth what D says the absorbing state is worth, no more: with the ``-log(1
- D)`` reward every step pays and, without ``s_a``, ending is a loss; with ``log D`` every step costs
and ending is a gain. An uninformative D (``D = 1/2`` everywhere, ``s_a`` included) gives every
episode the same return, whatever its length (``tests/test_absorbing.py``).

On-policy here: PPO's value target of a terminated step is the step's reward plus that tail (the
wrapper adds ``gamma r(s_a) / (1 - gamma)`` to the last reward, as SB3 adds ``gamma V(s_T)`` to a
truncated one), where DAC's off-policy critic learns ``Q(s_a) = r(s_a) / (1 - gamma)`` from
``(s_a, 0, s_a)`` transitions in its replay buffer. D samples the absorbing state once per
terminated episode on each side, as DAC's buffer holds one ``(s_a, 0, s_a)`` per episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advrl.gail.demos import Obs, Transitions, concat_obs, take_rows


def absorbing_tail(reward: float, gamma: float) -> float:
    """``sum_{k >= 1} gamma^k reward``: what the steps after a termination add to its return."""
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"absorbing states need a discount gamma in [0, 1), got {gamma}")
    return gamma * reward / (1.0 - gamma)


def with_absorbing(obs: Obs, acts: np.ndarray, ends: np.ndarray) -> tuple[Obs, np.ndarray, Any]:
    """Steps followed by one absorbing-state row per ``True`` in ``ends`` (the steps that
    terminated their episode).

    Returns:
        ``(obs, acts, absorbing)``: the steps, then the added rows (copies of the terminating
        steps, which D replaces by the absorbing state's input), and the bool mask of added rows.
    """
    ends = np.asarray(ends, dtype=bool)
    rows = np.flatnonzero(ends)
    mask = np.zeros(len(acts) + len(rows), dtype=bool)
    mask[len(acts) :] = True
    return concat_obs([obs, take_rows(obs, rows)]), np.concatenate([acts, acts[rows]]), mask


def expert_pool(expert: Transitions) -> tuple[Obs, np.ndarray, np.ndarray]:
    """The expert's steps plus one absorbing row per terminated episode (:func:`with_absorbing`)."""
    return with_absorbing(expert.obs, expert.acts, expert.dones)
