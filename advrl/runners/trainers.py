"""The trainers a run drives (:class:`~advrl.runners.lifecycle.Trainer`): PPO and GAIL through
SB3's ``learn``, ASAF's rounds, the UED runner's iterations, each with one checkpoint layout."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger

from advrl import progress
from advrl.agents.robust.atla import ATLA
from advrl.agents.state import (
    agent_state,
    global_rng_state,
    load_agent_state,
    set_global_rng_state,
)
from advrl.gail import ASAF, GAIL
from advrl.pair import UEDRunner


class AfterIteration(BaseCallback):
    """Calls ``action()`` after each of SB3's updates: at the start of every rollout but a learn
    call's first (SB3 has no callback between ``train()`` and the next rollout)."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__()
        self.action = action
        self._first = True

    def _on_rollout_start(self) -> None:
        if not self._first:
            self.action()
        self._first = False

    def _on_step(self) -> bool:
        return True


class ProgressTick(BaseCallback):
    """Tells the progress display of every env step (it redraws when due)."""

    def _on_step(self) -> bool:
        progress.tick()
        return True


class SB3Trainer:
    """An SB3 model trained by its own ``learn`` (PPO, robust PPO), or by an imitation trainer
    around it that keeps state of its own (``GAIL``: the discriminator, the reward normalizer).

    Args:
        model: the SB3 model (the policy a run exports).
        trainer: GAIL or ATLA (its ``learn`` and ``state_dict``), or None for the model alone.
        callbacks: further SB3 callbacks (e.g. level statistics for TensorBoard).
    """

    step_unit = "steps"

    def __init__(
        self,
        model: BaseAlgorithm,
        *,
        trainer: GAIL | ASAF | ATLA | None = None,
        callbacks: Sequence[BaseCallback] = (),
    ) -> None:
        self.model = model
        self.trainer = trainer
        self.callbacks = list(callbacks)

    @property
    def num_timesteps(self) -> int:
        """The model's env steps."""
        return int(self.model.num_timesteps)

    def set_logger(self, logger: Logger) -> None:
        """The model (and so the trainer around it) records into ``logger``."""
        self.model.set_logger(logger)

    def position(self) -> dict[str, float]:
        """``time/total_timesteps``: SB3's step column."""
        return {"time/total_timesteps": float(self.num_timesteps)}

    def learn(self, total_timesteps: int, after_iteration: Callable[[], None]) -> None:
        """SB3's ``learn`` (GAIL's around it) for the steps left."""
        learner: Any = self.trainer if self.trainer is not None else self.model
        learner.learn(
            total_timesteps - self.num_timesteps,
            callback=CallbackList(
                [*self.callbacks, ProgressTick(), AfterIteration(after_iteration)]
            ),
            reset_num_timesteps=False,
        )

    def state_dict(self) -> dict[str, Any]:
        """``agents.policy``, the global random states and the trainer's own state."""
        state: dict[str, Any] = {
            "agents": {"policy": agent_state(self.model)},  # type: ignore[arg-type]
            "rng": global_rng_state(),
        }
        if self.trainer is not None:
            state["trainer"] = self.trainer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        load_agent_state(self.model, state["agents"]["policy"])  # type: ignore[arg-type]
        if "rng" in state:
            set_global_rng_state(state["rng"])
        if self.trainer is not None:
            self.trainer.load_state_dict(state["trainer"])

    def close(self) -> None:
        """Close the model's envs."""
        venv = self.model.get_env()
        if venv is not None:
            venv.close()


class ASAFTrainer(SB3Trainer):
    """ASAF: rounds of generated pieces and fitting (no SB3 ``learn``); the policy lives in an SB3
    model, like every other run's."""

    def __init__(self, asaf: ASAF) -> None:
        super().__init__(asaf.model, trainer=asaf)
        self.asaf = asaf

    def position(self) -> dict[str, float]:
        """``time/rounds`` beside the env steps."""
        return {**super().position(), "time/rounds": float(self.asaf.rounds)}

    def learn(self, total_timesteps: int, after_iteration: Callable[[], None]) -> None:
        """ASAF's rounds until ``total_timesteps`` env steps."""
        self.asaf.learn(total_timesteps, callback=lambda _asaf, _stats: after_iteration())


class UEDTrainer:
    """A UED runner: its iterations, its checkpoint (every agent, the teacher, the random states).

    Args:
        runner: the teacher, the students and the levels.
        total_timesteps: the run's budget (the agents' SB3 state is set up for it).
    """

    step_unit = "protagonist steps"

    def __init__(self, runner: UEDRunner, total_timesteps: int) -> None:
        self.runner = runner
        self.total_timesteps = total_timesteps
        self.student_steps_per_s: float | None = None

    @property
    def num_timesteps(self) -> int:
        """The protagonist's env steps."""
        return self.runner.num_timesteps

    def set_logger(self, logger: Logger) -> None:
        """Every agent records into ``logger`` (set before the agents start)."""
        self.runner.logger = logger

    def position(self) -> dict[str, float]:
        """The protagonist's env steps and the last iteration's (0-based) index, as that
        iteration's own row has them."""
        return {
            "time/protagonist_steps": float(self.num_timesteps),
            "time/iteration": float(max(self.runner.iteration - 1, 0)),
        }

    def learn(self, total_timesteps: int, after_iteration: Callable[[], None]) -> None:
        """Iterate; measures the students' steps per second on the way."""
        before = self._student_steps()
        start = time.perf_counter()
        self.runner.run(total_timesteps, [lambda _runner: after_iteration()])
        elapsed = time.perf_counter() - start
        steps = self._student_steps() - before
        self.student_steps_per_s = round(steps / elapsed, 1) if elapsed > 0 else None

    def _student_steps(self) -> int:
        agents = self.runner.agents()
        return sum(
            int(agents[r].num_timesteps) for r in ("protagonist", "antagonist") if r in agents
        )

    def state_dict(self) -> dict[str, Any]:
        """The runner's state."""
        return self.runner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (after setting up the agents' SB3 state)."""
        self.runner.start(self.total_timesteps)
        self.runner.load_state_dict(state)

    def close(self) -> None:
        """Close every agent's envs."""
        for model in self.runner.agents().values():
            if model.env is not None:
                model.env.close()
