"""Levels built as they are seen (DEGen's dynamic generation) on the batched maze: a builder that
copies a level cell by cell plays exactly as that level fixed, replays included; cells are built
only when first in view, once each per level; the goal at most once; an episode that ends replays
its level and ``reset`` starts a new one; a builder's mistakes are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrl.envs.batched import GOAL, UNSEEN, WALL, BatchedMaze, BuildRequest
from advrl.envs.level import MazeLevel


class Copy:
    """Builds each slot's cells from a template level (walls and goal); records every request."""

    def __init__(self, env: BatchedMaze, templates: list[MazeLevel]) -> None:
        self.env, self.templates = env, templates
        self.requests: list[BuildRequest] = []

    def __call__(self, request: BuildRequest) -> tuple[torch.Tensor, torch.Tensor]:
        self.requests.append(request)
        cell = request.buildable.long().argmax(1)  # the first buildable cell of each view
        kinds = []
        for k, env_index in enumerate(request.envs.tolist()):
            flat = int(
                self.env.pos[env_index] + self.env._view_idx[self.env.dir[env_index]][cell[k]]
            )
            row, col = divmod(flat, self.env.side)
            row, col = row - self.env.offset, col - self.env.offset
            template = self.templates[env_index]
            kinds.append(2 if template.goal == (row, col) else int(template.walls[row, col]))
        return cell, torch.tensor(kinds)


def template() -> MazeLevel:
    walls = np.zeros((7, 7), dtype=bool)
    walls[2, 1:6] = True
    walls[4, 0:4] = True
    return MazeLevel(walls=walls, goal=(6, 6), start=(0, 0), start_dir=0)


def test_a_copying_builder_plays_exactly_as_the_level_fixed() -> None:
    """Episode after episode: a built level's replays are that level fixed, played again."""
    n = 4
    built = BatchedMaze(n, size=9, max_steps=15, seed=3)
    copy = Copy(built, [template()] * n)
    built.set_builder(copy)
    obs_b = built.reset()
    # the same levels, fixed, with the starts and directions the built episodes drew
    levels = []
    for i in range(n):
        row, col = divmod(int(built._start[i]), built.side)
        start = (row - built.offset, col - built.offset)
        walls = template().walls.copy()
        walls[start] = False
        goal = template().goal if start != template().goal else (0, 0)
        levels.append(MazeLevel(walls, goal, start, int(built._start_dir[i])))
    fixed = BatchedMaze(n, size=9, max_steps=15, seed=3)
    fixed.set_levels(levels)
    obs_f = fixed.reset()
    visible = obs_b["image"][..., 0] != UNSEEN
    np.testing.assert_array_equal(obs_b["image"][visible], obs_f["image"][visible])
    assert visible.all()  # every cell in view is built before the agent sees it
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(60):
        actions = rng.integers(0, 3, n)
        obs_b, rew_b, done_b, _ = built.step(actions)
        obs_f, rew_f, done_f, _ = fixed.step(actions)
        np.testing.assert_array_equal(done_b, done_f)
        np.testing.assert_array_equal(rew_b, rew_f)
        np.testing.assert_array_equal(obs_b["image"], obs_f["image"])
        np.testing.assert_array_equal(obs_b["direction"], obs_f["direction"])
        episodes += int(done_b.sum())
    assert episodes >= 2 * n  # the comparison covers replays


def test_cells_are_built_once_when_first_seen_and_the_goal_at_most_once() -> None:
    env = BatchedMaze(3, size=9, max_steps=30, seed=0)
    copy = Copy(env, [template()] * 3)
    env.set_builder(copy)
    env.reset()
    first = len(copy.requests)
    assert 1 <= first <= 25 and all(r.view.dtype == torch.uint8 for r in copy.requests)
    for request in copy.requests:
        # what a request shows as unbuilt is exactly its buildable cells
        assert bool(((request.view == UNSEEN) == request.buildable).all())
    rng = np.random.default_rng(1)
    for _ in range(30):
        env.step(rng.integers(0, 3, 3))
    inside = env._base.view(-1, 1) + env._inner_idx
    goals = (env.grid[inside] == GOAL).sum(1)
    assert bool((goals <= 1).all())
    built = env.built[inside]
    assert bool(built.any(1).all()) and not bool(built.all())  # seen cells only


def test_an_ended_episode_replays_its_level_and_reset_builds_a_new_one() -> None:
    env = BatchedMaze(3, size=9, max_steps=6, seed=2)
    copy = Copy(env, [template()] * 3)
    env.set_builder(copy)
    env.reset()
    ids, start, direction = env.level_ids.clone(), env._start.clone(), env._start_dir.clone()
    rng = np.random.default_rng(4)
    seen = env.built.clone()
    ended = np.zeros(3, dtype=bool)
    for _ in range(20):
        _, _, done, _ = env.step(rng.integers(0, 3, 3))
        ended |= done
        assert bool((env.built >= seen).all())  # a replay keeps what is built
        seen = env.built.clone()
        for i in np.flatnonzero(done):  # back at the level's start, its view built already
            assert int(env.pos[i]) == int(start[i]) and int(env.dir[i]) == int(direction[i])
            assert int(env.t[i]) == 0
    assert ended.all()
    assert torch.equal(env.level_ids, ids)  # one level per slot between resets
    assert all(bool((r.level_ids == ids[r.envs]).all()) for r in copy.requests)
    env.reset()
    assert bool((env.level_ids == ids + 1).all())
    inside = env._base.view(-1, 1) + env._inner_idx
    assert int(env.built[inside].sum()) < int(seen[inside].sum())  # a new, empty level


def test_a_builder_that_breaks_the_rules_is_refused() -> None:
    env = BatchedMaze(2, size=9, seed=0)

    def twice(request: BuildRequest) -> tuple[torch.Tensor, torch.Tensor]:
        built_cell = (~request.buildable).long().argmax(1)  # a cell that exists already
        return built_cell, torch.zeros(len(request.envs), dtype=torch.long)

    env.set_builder(twice)
    with pytest.raises(ValueError, match="built already"):
        env.reset()

    def two_goals(request: BuildRequest) -> tuple[torch.Tensor, torch.Tensor]:
        return request.buildable.long().argmax(1), torch.full((len(request.envs),), 2)

    env.set_builder(two_goals)
    with pytest.raises(ValueError, match="second goal"):
        env.reset()


def test_without_a_builder_nothing_changes() -> None:
    a, b = BatchedMaze(3, size=9, seed=5), BatchedMaze(3, size=9, seed=5)
    b.set_builder(None)
    np.testing.assert_array_equal(a.reset()["image"], b.reset()["image"])
    assert bool(a.built.all()) and not bool(a.building.any())
    assert WALL in a.reset()["image"][..., 0]


def test_a_slot_given_a_fixed_level_mid_rollout_starts_it_at_its_episode_end() -> None:
    env = BatchedMaze(2, size=9, max_steps=4, seed=1)
    env.set_builder(Copy(env, [template()] * 2))
    env.reset()
    env.set_levels([template()], indices=[0])  # slot 0: the fixed level from its next episode
    rng = np.random.default_rng(0)
    for _ in range(4):  # every episode ends at step 4
        env.step(rng.integers(0, 3, 2))
    row, col = template().start
    assert int(env.pos[0]) == int(env._base[0] + env._inner_idx[row * env.inner + col])
    assert not bool(env.building[0]) and bool(env.building[1])
    assert int(env.level_ids[0]) == 2 and int(env.level_ids[1]) == 1  # slot 1 replays


def test_the_pixel_maze_keeps_a_replayed_levels_view_and_draws_a_new_levels() -> None:
    from advrl.envs.batched_pixel_maze import PixelBatchedMaze

    env = PixelBatchedMaze(2, size=9, max_steps=4, seed=0, views="train")
    env.reset()  # a new level's view is drawn at its start, as any episode's
    first_views = env.views.clone()
    env.set_builder(Copy(env, [template()] * 2))
    rng = np.random.default_rng(0)
    for _ in range(4):  # the episodes on domain-randomized levels end: new, built levels
        env.step(rng.integers(0, 3, 2))
    built_views = env.views.clone()
    assert not torch.equal(built_views, first_views)
    for _ in range(4):  # they end again: the built levels replay, with their views
        env.step(rng.integers(0, 3, 2))
    assert torch.equal(env.views, built_views) and bool((env.level_ids == 2).all())
    env.reset()
    assert not torch.equal(env.views, built_views)
