"""One run lifecycle for every ``advrl train`` method.

Every method runs through :func:`execute`:

1. **build**: the method's :class:`Job` (its trainer and what it evaluates), from the settings alone;
   a bad setting fails here, before anything is written;
2. **open**: a new run folder with the resolved config, or the run being resumed;
3. **resume**: the trainer's state from the latest checkpoint (else the job's fresh start);
4. **learn**, with the periodic events after each iteration (a rollout and its updates), through
   one mechanism, :class:`Periodic`: evaluation, then checkpoint, each every N env steps;
5. **finish**: the final checkpoint, the policy exported, the final evaluation, ``summary.json``
   (a budget that ends on an event's boundary evaluates and checkpoints once, here).

Evaluations run with the global random states put back afterwards, so a run trains the same
whether it evaluates or not, and a resumed run continues exactly as an uninterrupted one.

A trainer is anything with the :class:`Trainer` interface: PPO (plain or robust), the UED runner,
GAIL, ASAF. A checkpoint is the trainer's ``state_dict`` (tensors, numbers and strings: ``agents``,
each SB3 agent's networks, optimizer, counters and env random state; ``rng``, torch's and numpy's
global random states; whatever else the trainer keeps), written atomically and read back with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stable_baselines3.common.logger import Logger, configure

from advrl.agents.state import isolated_rng
from advrl.config import TrainSettings
from advrl.files import read_state, write_state
from advrl.runs import RunDir, start_run

CHECKPOINT_FORMAT = 2
"""Version of the checkpoint layout; files without one are upgraded by :func:`upgrade_checkpoint`."""


class Trainer(Protocol):
    """What a run trains."""

    @property
    def num_timesteps(self) -> int:
        """Env steps taken so far (UED: the protagonist's); the budget counts these."""

    def set_logger(self, logger: Logger) -> None:
        """Record into ``logger`` (the run's TensorBoard and CSV)."""

    def learn(self, total_timesteps: int, after_iteration: Callable[[], None]) -> None:
        """Train until ``num_timesteps`` reaches ``total_timesteps``, calling ``after_iteration``
        after each iteration's updates."""

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (checkpoint-safe)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def close(self) -> None:
        """Release envs and processes."""


@dataclass
class Job:
    """One method's run, built from its settings.

    Attributes:
        trainer: what learns.
        evaluate: the periodic evaluation: records its scalars into the trainer's logger.
        finish: after training, in the run folder: exports the policy, evaluates it, and returns
            the summary's method-specific fields.
        fresh_start: for a new run (not a resumed one), before learning (e.g. behaviour cloning).
        summary: fields of the summary known from the start (env, method, seed, ...).
    """

    trainer: Trainer
    evaluate: Callable[[], None]
    finish: Callable[[RunDir], dict[str, Any]]
    fresh_start: Callable[[], None] | None = None
    summary: dict[str, Any] | None = None


class Periodic:
    """Calls ``action()`` each time the step count passes another ``every`` steps beyond ``start``
    (``every=0``: never). The one "every N steps" mechanism of a run."""

    def __init__(self, every: int, action: Callable[[], None], start: int) -> None:
        self.every, self.action = every, action
        self.next = start + every if every else None

    def __call__(self, steps: int) -> None:
        """Act if ``steps`` reached the next boundary (once, however many it passed)."""
        if self.next is not None and steps >= self.next:
            while self.next <= steps:
                self.next += self.every
            self.action()


def upgrade_checkpoint(state: dict[str, Any], role: str = "policy") -> dict[str, Any]:
    """A checkpoint of an earlier advrl in today's layout.

    PPO, GAIL and ASAF checkpoints once held one model's ``params``, ``num_timesteps``,
    ``n_updates``, torch's random state and (imitation) ``trainer``; today they hold ``agents``
    by role and ``rng``, as UED checkpoints always did.
    """
    if "agents" in state or "params" not in state:
        return state
    agent = {k: state[k] for k in ("params", "num_timesteps", "n_updates") if k in state}
    upgraded: dict[str, Any] = {"agents": {role: agent}}
    if "torch_rng" in state:
        upgraded["rng"] = {"torch": state["torch_rng"]}
    if "trainer" in state:
        upgraded["trainer"] = state["trainer"]
    return upgraded


def read_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint, in today's layout (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign.
    """
    state = upgrade_checkpoint(read_state(path, map_location=map_location))
    if "agents" not in state:
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state


def write_checkpoint(path: Path, trainer: Trainer) -> None:
    """The trainer's state, atomically."""
    write_state(path, {"format": CHECKPOINT_FORMAT, **trainer.state_dict()})


def policy_params(path: Path, role: str) -> dict[str, Any]:
    """The parameters (SB3's ``get_parameters``) of agent ``role`` in a checkpoint."""
    agents = read_checkpoint(path)["agents"]
    if role not in agents:
        raise ValueError(f"{str(path)!r} holds agents {sorted(agents)}, not {role!r}")
    params: dict[str, Any] = agents[role]["params"]
    return params


def execute(
    config: Any,
    method: str,
    build: Callable[[], Job],
    *,
    resume: str | Path | None,
) -> dict[str, Any]:
    """Build, open, resume, learn and finish one run; returns the summary written to
    ``summary.json``.

    Args:
        config: the run's settings (written to a new run's ``config.yaml``); its ``train``
            section (:class:`~advrl.config.TrainSettings`) gives the budget and the intervals.
        method: the method's name (the run folder's default name, the summary).
        build: makes the method's :class:`Job`; every setting is checked here.
        resume: a run folder to continue from its latest checkpoint.
    """
    train: TrainSettings = config.train
    total_timesteps = train.total_timesteps
    job = build()  # a bad config fails here, before the run folder exists
    trainer = job.trainer
    run = start_run(config, method, resume)
    logger = configure(str(run.tb), ["tensorboard", "csv"])
    trainer.set_logger(logger)
    checkpoint = run.latest_checkpoint() if resume is not None else None
    if checkpoint is not None:
        trainer.load_state_dict(read_checkpoint(checkpoint))
    elif job.fresh_start is not None:
        job.fresh_start()
    done = trainer.num_timesteps

    def evaluate() -> None:
        with isolated_rng():  # the same training whether or not, and however often, it evaluates
            job.evaluate()

    def save() -> None:
        write_checkpoint(run.checkpoint_path(trainer.num_timesteps), trainer)

    events = [
        Periodic(train.eval_every, evaluate, done),
        Periodic(train.checkpoint_every, save, done),
    ]

    def after_iteration() -> None:
        if trainer.num_timesteps < total_timesteps:  # at the end: the final ones, once
            for event in events:
                event(trainer.num_timesteps)

    start = time.perf_counter()
    if total_timesteps > done:
        trainer.learn(total_timesteps, after_iteration)
    elapsed = time.perf_counter() - start
    save()
    summary = {
        "run": str(run.path),
        "method": method,
        **(job.summary or {}),
        "timesteps": int(trainer.num_timesteps),
        "resumed_from": done if checkpoint is not None else None,
        "wall_clock_s": round(elapsed, 2),
        "env_steps_per_s": round((trainer.num_timesteps - done) / elapsed, 1)
        if elapsed > 0
        else None,
        **job.finish(run),
    }
    run.write_summary(summary)
    trainer.close()
    logger.close()
    return summary
