"""The UED loop: a teacher proposes levels, the students play and learn, the teacher learns.

One iteration of :class:`UEDRunner`:

1. the teacher proposes one level per slot (designed, random, replayed or edited);
2. the protagonist plays them for one rollout (and the antagonist too, for PAIRED);
3. the students take their PPO updates (unless the teacher says the batch is for scoring only),
   with a KL term toward each other in the iterations where the teacher asks for cloning;
4. the teacher learns from the rollouts (the adversary's update, the PLR buffer's scores);
5. everything is logged to one SB3 logger (TensorBoard), agents under their own prefixes.

The runner's :meth:`~UEDRunner.state_dict` holds every agent (networks and optimizers), the
teacher (PLR buffer, generators) and every random state (torch, numpy, the envs'), so a run
resumed from it continues exactly as the uninterrupted run would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import Image, Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from advrl.agents.state import agent_state, global_rng_state, load_agent_state, set_global_rng_state
from advrl.logging import NOT_TEXT, tile_images
from advrl.pair.levels import LevelFamily
from advrl.pair.students import RolloutResult, Student
from advrl.pair.teachers import Teacher
from advrl.periodic import Periodic

# ---------------------------------------------------------------------------- the loop
Hook = Callable[["UEDRunner"], None]
"""Called after every iteration (periodic evaluation, checkpoints)."""


class UEDRunner:
    """Runs one UED method: a teacher, a protagonist and, for PAIRED, an antagonist.

    Args:
        teacher: the level source (see :mod:`advrl.pair.teachers`).
        protagonist: the student being trained (the one evaluated).
        antagonist: the second student, when the teacher needs one.
        family: the levels' family (statistics and images for TensorBoard).
        logger: SB3 logger every agent records into (dumped once per iteration).
        image_every: protagonist env steps between level images (0: never).
        num_images: levels per image.
    """

    def __init__(
        self,
        *,
        teacher: Teacher,
        protagonist: Student,
        family: LevelFamily,
        logger: Logger,
        antagonist: Student | None = None,
        image_every: int = 0,
        num_images: int = 8,
    ) -> None:
        if teacher.needs_antagonist and antagonist is None:
            raise ValueError(f"{type(teacher).__name__} needs an antagonist")
        if antagonist is not None and antagonist.num_levels != protagonist.num_levels:
            raise ValueError("the two students must play the same number of levels")
        self.teacher = teacher
        self.protagonist = protagonist
        self.antagonist = antagonist if teacher.needs_antagonist else None
        self.family = family
        self.logger = logger
        self.image_every = int(image_every)
        self.num_images = int(num_images)
        self.iteration = 0
        self.last_metrics: dict[str, float] = {}
        self.images = Periodic(self.image_every, start=-self.image_every)
        self._started = False
        teacher.attach(protagonist, self.antagonist)

    @property
    def num_levels(self) -> int:
        """Levels per iteration."""
        return self.protagonist.num_levels

    @property
    def num_timesteps(self) -> int:
        """The protagonist's env steps: the run's budget is counted in these."""
        return self.protagonist.num_timesteps

    def agents(self) -> dict[str, OnPolicyAlgorithm]:
        """Every SB3 agent of the run, by role."""
        out = {"protagonist": self.protagonist.model}
        if self.antagonist is not None:
            out["antagonist"] = self.antagonist.model
        adversary = getattr(self.teacher, "adversary", None)
        if adversary is not None:
            out["adversary"] = adversary.model
        return out

    def start(self, total_timesteps: int) -> None:
        """Set up SB3's state of every agent (once)."""
        if self._started:
            return
        self.protagonist.start(total_timesteps, self.logger)
        if self.antagonist is not None:
            self.antagonist.start(total_timesteps, self.logger)
        self.teacher.start(total_timesteps, self.logger)
        self._started = True

    def step(self) -> dict[str, float]:
        """One iteration; returns the scalars it logged."""
        t0 = time.perf_counter()
        proposal = self.teacher.propose(self.num_levels)
        cloning = self.teacher.cloning(self.iteration) if self.antagonist is not None else None
        pro = self.protagonist.play(
            proposal.levels,
            learn=proposal.learn,
            imitate=self.antagonist if cloning is not None else None,
            imitation_coef=cloning.coef if cloning is not None else 0.0,
        )
        ant = (
            self.antagonist.play(
                proposal.levels,
                learn=proposal.learn,
                imitate=self.protagonist if cloning is not None and cloning.both else None,
                imitation_coef=cloning.coef if cloning is not None else 0.0,
            )
            if self.antagonist is not None
            else None
        )
        metrics = {f"ued/{k}": v for k, v in self.teacher.update(proposal, pro, ant).items()}
        if self.antagonist is not None:
            metrics["ued/cloning"] = float(cloning is not None)
        metrics.update(self._student_metrics("protagonist", pro))
        if ant is not None:
            metrics.update(self._student_metrics("antagonist", ant))
        known = [level for level in self.teacher.played_levels(proposal) if level is not None]
        if known:
            metrics.update({f"levels/{k}": v for k, v in self.family.stats(known).items()})
        scores = getattr(self.teacher, "last_scores", None)
        if scores is not None:  # the adversary's reward per level, as a TensorBoard histogram
            self.logger.record("ued/score_histogram", torch.as_tensor(scores), exclude=NOT_TEXT)
        elapsed = time.perf_counter() - t0
        steps = pro.steps + (ant.steps if ant is not None else 0)
        metrics["time/iteration"] = float(self.iteration)
        metrics["time/student_steps_per_s"] = steps / elapsed if elapsed > 0 else 0.0
        metrics["time/protagonist_steps"] = float(self.num_timesteps)
        for key, value in metrics.items():
            self.logger.record(key, value)
        if self.images.due(self.num_timesteps) and known:
            images = self.family.images(known[: self.num_images])
            if images:
                self.logger.record(
                    "levels/images", Image(tile_images(images), "HWC"), exclude=NOT_TEXT
                )
        self.iteration += 1
        self.last_metrics = metrics
        return metrics

    @staticmethod
    def _student_metrics(name: str, result: RolloutResult) -> dict[str, float]:
        episodes = sum(len(r) for r in result.returns)
        metrics = {
            f"ued/{name}_return": float(result.mean_return.mean()),
            f"ued/{name}_solve_rate": result.solve_rate,
            f"ued/{name}_episodes": float(episodes),
        }
        if episodes:  # SB3's names, per agent: the mean over the episodes that ended
            flat = [r for level in result.returns for r in level]
            solved = [s for level in result.successes for s in level]
            metrics[f"{name}/rollout/ep_rew_mean"] = float(np.mean(flat))
            metrics[f"{name}/rollout/success_rate"] = float(np.mean(solved))
        return metrics

    def run(self, total_timesteps: int, hooks: Sequence[Hook] = ()) -> None:
        """Iterate until the protagonist has taken ``total_timesteps`` env steps."""
        self.start(total_timesteps)
        while self.num_timesteps < total_timesteps:
            self.step()
            try:  # the iteration's row is written even when a hook stops the run
                for hook in hooks:
                    hook(self)
            finally:
                self.logger.dump(self.num_timesteps)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (checkpoint-safe: tensors, numbers, strings)."""
        return {
            "agents": {role: agent_state(m) for role, m in self.agents().items()},
            "teacher": self.teacher.state_dict(),
            "rng": global_rng_state(),
            "iteration": self.iteration,
            "next_image": self.images.next if self.images.next is not None else -1,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (after :meth:`start`)."""
        agents = self.agents()
        if set(state["agents"]) != set(agents):
            raise ValueError(
                f"the checkpoint holds agents {sorted(state['agents'])}, this run has "
                f"{sorted(agents)}"
            )
        for role, model in agents.items():
            load_agent_state(model, state["agents"][role])
        self.teacher.load_state_dict(state["teacher"])
        set_global_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        if self.images.next is not None:
            self.images.next = int(state["next_image"])
