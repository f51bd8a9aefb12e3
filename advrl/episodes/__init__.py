"""Episodes: who acts (a policy, many episodes at once, each with its own noise) and the loops
that play seeded episodes side by side and summarize them. Evaluation, demonstration recording
and video all play their episodes here."""

from advrl.episodes.actors import Actor, PolicyActor, RandomActor, as_actor, episode_keys
from advrl.episodes.rollouts import (
    EVAL_SEED_OFFSET,
    EpisodeStats,
    Policy,
    PolicyModes,
    evaluate,
    evaluate_batch,
    evaluate_modes,
    play,
    play_env,
    random_actor,
    random_policy,
    sb3_policy,
    start_episode,
)

__all__ = [
    "EVAL_SEED_OFFSET",
    "Actor",
    "EpisodeStats",
    "Policy",
    "PolicyActor",
    "PolicyModes",
    "RandomActor",
    "as_actor",
    "episode_keys",
    "evaluate",
    "evaluate_batch",
    "evaluate_modes",
    "play",
    "play_env",
    "random_actor",
    "random_policy",
    "sb3_policy",
    "start_episode",
]
