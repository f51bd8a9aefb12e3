"""The adversary's reward lands on its last design step; students replay their levels; ACCEL edits."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

from advrl.agents import make_ppo
from advrl.envs import MazeLevel
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_designer import BatchedMazeDesigner
from advrl.envs.physics import ParamDesignerEnv
from advrl.pair import (
    ACCEL,
    PAIRED,
    PLR,
    REPAIRED,
    Adversary,
    LevelBuffer,
    MazeFamily,
    ParamFamily,
    Student,
    family_for,
)
from advrl.pair.scores import negative_advantage_score
from advrl.pair.students import RolloutResult
from advrl.runners.ued import make_level_env

LOGGER = configure(None, [])


def maze_adversary(n: int = 4, walls: int = 3) -> Adversary:
    designer = BatchedMazeDesigner(n, size=6, wall_budget=walls, noise_dim=2, seed=0)
    model = make_ppo(
        designer, n_steps=walls + 2, batch_size=n * (walls + 2), n_epochs=1, seed=0, conv_filters=4
    )
    adversary = Adversary(model)
    adversary.start(1000, LOGGER)
    return adversary


def test_the_adversarys_reward_lands_on_its_last_step_only() -> None:
    adversary = maze_adversary()
    levels = adversary.design()
    assert len(levels) == 4 and all(isinstance(lvl, MazeLevel) for lvl in levels)
    buffer = adversary.model.rollout_buffer
    assert not buffer.rewards.any()  # the designer itself pays nothing
    scores = np.array([0.5, -1.0, 0.0, 2.0], dtype=np.float32)
    adversary.assign(scores)
    np.testing.assert_array_equal(buffer.rewards[:-1], 0.0)
    np.testing.assert_array_equal(buffer.rewards[-1], scores)
    # The design ends there: its return is the score itself, and earlier steps discount it.
    np.testing.assert_allclose(buffer.returns[-1], scores, rtol=1e-6)
    gamma, lam = adversary.model.gamma, adversary.model.gae_lambda
    delta = scores - buffer.values[-1]
    expected = gamma * buffer.values[-1] - buffer.values[-2] + gamma * lam * delta
    np.testing.assert_allclose(buffer.advantages[-2], expected, rtol=1e-5, atol=1e-6)
    adversary.update()
    assert adversary.model._n_updates == 1


def test_an_adversary_whose_rollout_is_not_one_design_is_refused() -> None:
    designer = BatchedMazeDesigner(2, size=6, wall_budget=3, noise_dim=0, seed=0)
    adversary = Adversary(make_ppo(designer, n_steps=4, batch_size=8, n_epochs=1, seed=0))
    adversary.start(100, LOGGER)
    with pytest.raises(ValueError, match="must equal the designer's episode length"):
        adversary.design()
    with pytest.raises(ValueError, match="one score per level"):
        maze_adversary().reward([1.0])


def test_param_designer_maps_actions_onto_the_ranges() -> None:
    env = ParamDesignerEnv(env_id="advrl/Pendulum-v1")
    low = env.action_to_level(-np.ones(len(env.names)))
    high = env.action_to_level(np.ones(len(env.names)) * 5)  # clipped to 1
    for name, space in env.level_space.spaces.items():
        assert low[name] == pytest.approx(float(space.low))
        assert high[name] == pytest.approx(float(space.high))
    env.reset(seed=0)
    *_, terminated, _, info = env.step(np.zeros(len(env.names), dtype=np.float32))
    assert terminated and set(info["level"]) == set(env.names)


def students_env_levels(n: int = 3) -> list[MazeLevel]:
    return [
        MazeLevel.from_text(">G..\n....\n....\n...."),  # solved in one step
        MazeLevel.from_text(">###\n####\n####\n###G"),  # unsolvable
        MazeLevel.from_text("v...\n....\n....\n...G"),
    ][:n]


@pytest.mark.parametrize("backend", ["batched", "gymnasium"])
def test_students_replay_their_levels_for_the_whole_rollout(backend: str) -> None:
    levels = students_env_levels()
    if backend == "batched":
        venv = BatchedMaze(3, size=6, max_steps=10, seed=0)
    else:
        venv = make_vec_env(
            make_level_env,
            n_envs=3,
            seed=0,
            env_kwargs={"env_id": "advrl/Maze-v0", "kwargs": {"size": 6, "max_steps": 10}},
        )
    student = Student(make_ppo(venv, n_steps=40, batch_size=40, n_epochs=1, seed=0), "p")
    student.start(10_000, LOGGER)
    result = student.play(levels, learn=False)
    assert result.steps == 120 and student.model._n_updates == 0
    assert result.advantages.shape == (40, 3)
    # Every finished episode on a level was played on that level.
    assert len(result.returns[1]) == 4 and not any(result.successes[1])  # 4 timeouts of 10 steps
    assert all(len(r) >= 4 for r in result.returns)
    assert list(venv.get_attr("level")) == levels  # each slot still holds its own level
    student.play(levels, learn=True)
    assert student.model._n_updates == 1


def test_maze_edits_keep_goal_and_start_and_make_valid_levels() -> None:
    family = MazeFamily((6, 6), num_walls=8)
    rng = np.random.default_rng(0)
    for _ in range(50):
        parent = family.sample(rng)
        child = family.edit(parent, rng, num_edits=5)
        assert child.goal == parent.goal and child.start == parent.start
        changed = int((child.walls != parent.walls).sum())
        assert changed == 5
        assert not child.walls[child.goal] and not child.walls[child.start]
        assert family.decode(family.encode(child)) == child
    blank = family.blank(rng)
    assert blank.num_walls == 0


def test_param_edits_stay_in_range() -> None:
    env = gym.make("advrl/CartPole-v1")
    family = family_for(env)
    assert isinstance(family, ParamFamily)
    rng = np.random.default_rng(0)
    level = family.blank(rng)
    assert level == env.unwrapped.default_level()
    for _ in range(100):
        level = family.edit(level, rng, num_edits=3)
        for name in family.names:
            low, high = family.bounds(name)
            assert low <= level[name] <= high


def test_family_for_an_env_without_levels_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="level_space"):
        family_for(gym.make("CartPole-v1"))


class FakeRollout:
    """A protagonist rollout with chosen advantages (PLR's positive value loss)."""

    def __init__(self, advantages: list[float]) -> None:
        self.advantages = np.array([advantages])
        self.values = np.zeros_like(self.advantages)
        self.returns = [[1.0] for _ in advantages]
        self.max_return = np.ones(len(advantages))


def test_plr_scores_new_levels_without_learning_then_replays_the_best() -> None:
    family = MazeFamily((5, 5))
    plr = PLR(family, LevelBuffer(4, temperature=0.1, staleness_coef=0.0), replay_prob=1.0)
    first = plr.propose(2)
    assert first.source == "new" and not first.learn  # PLR⊥: no gradient on new levels
    plr.update(first, FakeRollout([0.1, 0.9]), None)  # type: ignore[arg-type]
    second = plr.propose(2)
    assert second.source == "replay" and second.learn
    assert second.buffer_indices is not None
    # temperature 0.1: rank 1 has weight 1 against 2**-10; both draws are the high-score level
    assert second.levels == [first.levels[1], first.levels[1]]
    plr.update(second, FakeRollout([0.0, 0.2]), None)  # type: ignore[arg-type]
    assert plr.buffer.scores[1] == pytest.approx(0.2)  # the replayed level took its new score


def test_accel_follows_a_replay_with_edited_children() -> None:
    family = MazeFamily((5, 5))
    accel = ACCEL(family, LevelBuffer(8, staleness_coef=0.0), replay_prob=1.0, num_edits=2)
    new = accel.propose(2)
    assert new.source == "new" and all(lvl.num_walls == 0 for lvl in new.levels)  # blank rooms
    accel.update(new, FakeRollout([0.3, 0.4]), None)  # type: ignore[arg-type]
    replay = accel.propose(2)
    assert replay.source == "replay"
    accel.update(replay, FakeRollout([0.3, 0.4]), None)  # type: ignore[arg-type]
    children = accel.propose(2)
    assert children.source == "edit" and not children.learn
    for parent, child in zip(replay.levels, children.levels, strict=True):
        assert child.goal == parent.goal and int((child.walls != parent.walls).sum()) == 2
    accel.update(children, FakeRollout([1.0, 1.0]), None)  # type: ignore[arg-type]
    assert all(accel.buffer.find(c) is not None for c in children.levels)
    assert accel.propose(2).source == "replay"


def _rollout(returns: list[list[float]], successes: list[list[bool]]) -> RolloutResult:
    steps = np.zeros((2, len(returns)))
    return RolloutResult(returns, successes, advantages=steps, values=steps, steps=8)


def test_paired_logs_where_its_regret_comes_from() -> None:
    """Four levels, by hand: regret max(A_best - P_mean, 0) = [0.5, 0, 0, 0.9]."""
    paired = PAIRED(maze_adversary(), regret="clipped")
    protagonist = _rollout([[0.0, 0.5], [0.8], [], [0.1]], [[False, True], [True], [], [False]])
    antagonist = _rollout([[0.75], [0.2, 0.6], [], [1.0]], [[True], [True, True], [], [True]])
    proposal = paired.propose(4)
    metrics = paired.update(proposal, protagonist, antagonist)
    np.testing.assert_allclose(paired.last_scores, [0.5, 0.0, 0.0, 0.9])
    assert metrics["regret"] == pytest.approx(1.4 / 4)
    assert metrics["regret_positive_share"] == pytest.approx(0.5)
    # unclipped: [0.5, 0.6 - 0.8, 0 - 0, 1.0 - 0.1]
    assert metrics["antagonist_lead"] == pytest.approx((0.5 - 0.2 + 0.0 + 0.9) / 4)
    assert metrics["antagonist_only_solved"] == pytest.approx(0.25)  # the last level only


def test_mna_scores_come_from_the_protagonists_rollout_gated_on_solving() -> None:
    """PLR⊥ and PAIRED with ``mna`` score a real rollout by its maximised negative advantage; the
    unsolvable level scores 0 (the gate), PLR's gate counts a level solved before."""
    levels = students_env_levels()
    student = Student(
        make_ppo(BatchedMaze(3, size=6, max_steps=10, seed=0), n_steps=40, batch_size=40, seed=0),
        "p",
    )
    student.start(10_000, LOGGER)
    result = student.play(levels, learn=False)
    assert result.episode_starts is not None and result.episode_starts.shape == (40, 3)
    expected = negative_advantage_score(
        result.advantages,
        result.episode_starts,
        result.solved,
        gamma=result.gamma,
        gae_lambda=result.gae_lambda,
    )
    assert expected[1] == 0.0 and expected[0] >= 0.0  # level 1 cannot be solved
    paired = PAIRED(maze_adversary(3), regret="mna")
    np.testing.assert_allclose(paired.scores(result, None), expected)
    plr = PLR(MazeFamily((4, 4)), LevelBuffer(8), score="mna")
    ever_solved = np.array([1.0, 0.0, 1.0])  # best returns so far
    gated = negative_advantage_score(
        result.advantages,
        result.episode_starts,
        ever_solved > 0,
        gamma=result.gamma,
        gae_lambda=result.gae_lambda,
    )
    np.testing.assert_allclose(plr.level_scores(result, ever_solved), gated)


def test_repaired_designs_new_levels_rewards_regret_there_and_replays_the_best() -> None:
    """REPAIRED: with an empty buffer the adversary designs (no student gradient, PLR⊥), is
    rewarded with the hand-computed regret, and the designed levels enter the buffer with the
    protagonist's scores; a replay batch then trains the students and leaves the adversary be."""
    paired = PAIRED(maze_adversary(), regret="clipped")
    buffer = LevelBuffer(4, temperature=0.1, staleness_coef=0.0)
    teacher = REPAIRED(paired, MazeFamily((4, 4)), buffer, replay_prob=1.0)
    assert teacher.needs_antagonist and teacher.adversary is paired.adversary
    designed = teacher.propose(4)
    assert designed.source == "designed" and not designed.learn
    protagonist = _rollout([[0.0, 0.5], [0.8], [], [0.1]], [[False, True], [True], [], [False]])
    protagonist.advantages[:] = [[0.1, 0.0, 0.0, 0.9]]  # both steps: pvl scores 0.1, 0, 0, 0.9
    antagonist = _rollout([[0.75], [0.2, 0.6], [], [1.0]], [[True], [True, True], [], [True]])
    metrics = teacher.update(designed, protagonist, antagonist)
    np.testing.assert_allclose(teacher.last_scores, [0.5, 0.0, 0.0, 0.9])  # max(A_best - P_mean, 0)
    assert metrics["regret"] == pytest.approx(1.4 / 4) and metrics["buffer_size"] == 4
    np.testing.assert_allclose(sorted(buffer.scores), [0.0, 0.0, 0.1, 0.9])
    design_steps = paired.adversary.model.num_timesteps
    replay = teacher.propose(4)
    assert replay.source == "replay" and replay.learn
    best = designed.levels[3]  # the highest score; temperature 0.1 replays it almost always
    assert replay.levels.count(best) >= 3
    metrics = teacher.update(replay, protagonist, antagonist)
    assert "regret" not in metrics and teacher.last_scores is None
    assert paired.adversary.model.num_timesteps == design_steps  # no design on a replay batch


def test_repaired_is_a_ued_method_with_paireds_and_the_buffers_settings() -> None:
    from advrl.pair.methods import TEACHERS
    from advrl.pair.settings import REPAIREDSettings

    method = TEACHERS["repaired"]
    assert method.settings is REPAIREDSettings and method.needs_adversary
    settings = REPAIREDSettings(regret="mean", cloning="bibc", buffer_size=8, replay_prob=0.7)
    assert settings.robust and settings.score == "pvl"
    with pytest.raises(ValueError, match="replay_prob"):
        REPAIREDSettings(replay_prob=2.0)
    with pytest.raises(ValueError, match="cloning_every"):
        REPAIREDSettings(cloning_every=0)
