"""MazeEnv: the rules of the PAIRED maze on hand-made levels."""

from __future__ import annotations

import numpy as np
import pytest

from advrl.envs import LevelError, MazeEnv, MazeLevel, RandomWalls
from advrl.envs.level import DIRECTION_VECTORS

LEFT, RIGHT, FORWARD = 0, 1, 2
EMPTY, WALL, GOAL = 1, 2, 8


def env_for(level: MazeLevel, **kwargs) -> MazeEnv:
    return MazeEnv(generator=RandomWalls(shape=level.shape, num_walls=0), **kwargs)


def test_spaces_match_paired() -> None:
    env = MazeEnv()
    assert env.width == env.height == 15 and env.max_steps == 250
    assert env.observation_space["image"].shape == (5, 5, 3)
    assert env.observation_space["image"].dtype == np.uint8
    assert env.observation_space["direction"].n == 4
    assert env.action_space.n == 3


def test_view_facing_down_by_hand(room: MazeLevel) -> None:
    env = env_for(room)
    obs, info = env.reset(options={"level": room})
    assert info["level"] == room and obs["direction"] == 1
    # image[x, y]: x to the agent's right, y away from it; the agent at [2, 4] facing "up".
    expected = np.array(
        [
            [2, 2, 2, 2, 2],  # y=0: 4 ahead, beyond the border
            [2, 2, 2, 2, 2],  # y=1: the border row
            [1, 2, 1, 1, 8],  # y=2: row 4 seen right-to-left: . # . . G
            [1, 1, 1, 1, 1],  # y=3: row 3
            [1, 2, 1, 1, 1],  # y=4: the agent's own row 2 (its cell shows empty)
        ]
    )
    np.testing.assert_array_equal(obs["image"][:, :, 0].T, expected)


def expected_view(
    level: MazeLevel, pos: tuple[int, int], direction: int, size: int = 5
) -> np.ndarray:
    """Object types the agent should see, from the definition of the egocentric view."""
    d_row, d_col = DIRECTION_VECTORS[direction]
    r_row, r_col = d_col, -d_row  # the agent's right: forward turned clockwise
    view = np.zeros((size, size), dtype=int)
    for x in range(size):
        for y in range(size):
            fwd, right = size - 1 - y, x - size // 2
            row = pos[0] + fwd * d_row + right * r_row
            col = pos[1] + fwd * d_col + right * r_col
            inside = 0 <= row < level.height and 0 <= col < level.width
            if not inside or level.walls[row, col]:
                view[x, y] = WALL
            elif (row, col) == level.goal:
                view[x, y] = GOAL
            else:
                view[x, y] = EMPTY
    view[size // 2, size - 1] = EMPTY
    return view


@pytest.mark.parametrize("direction", range(4))
def test_view_in_every_direction(room: MazeLevel, direction: int) -> None:
    env = env_for(room)
    obs, _ = env.reset(options={"level": room.with_start_dir(direction)})
    np.testing.assert_array_equal(obs["image"][:, :, 0], expected_view(room, room.start, direction))
    assert obs["direction"] == direction


def test_turning_and_walking_update_the_view(room: MazeLevel) -> None:
    env = env_for(room)
    env.reset(options={"level": room})  # at (2, 2) facing down
    obs, *_ = env.step(LEFT)  # now facing right: (2, 3) is a wall ahead
    assert obs["direction"] == 0
    obs, *_ = env.step(FORWARD)  # blocked by the wall
    np.testing.assert_array_equal(obs["image"][:, :, 0], expected_view(room, (2, 2), 0))
    env.step(RIGHT)  # facing down again
    obs, *_ = env.step(FORWARD)  # to (3, 2)
    np.testing.assert_array_equal(obs["image"][:, :, 0], expected_view(room, (3, 2), 1))


@pytest.mark.parametrize("turns", [0, 2, 7])
def test_reward_formula_at_known_step_counts(corridor: MazeLevel, turns: int) -> None:
    env = MazeEnv(generator=RandomWalls(shape=(1, 5), num_walls=0), max_steps=250)
    env.reset(options={"level": corridor})
    for i in range(turns):
        _, reward, terminated, truncated, _ = env.step(LEFT if i % 2 == 0 else RIGHT)
        assert reward == 0.0 and not terminated and not truncated
    if turns % 2:  # an odd number of alternating turns ends facing up: turn right again
        env.step(RIGHT)
        turns += 1
    for _ in range(3):
        _, reward, terminated, _, _ = env.step(FORWARD)
        assert reward == 0.0 and not terminated
    _, reward, terminated, truncated, info = env.step(FORWARD)
    t = turns + 4
    assert terminated and not truncated and info["is_success"]
    assert reward == pytest.approx(1 - 0.9 * t / 250)


def test_truncation_without_success(corridor: MazeLevel) -> None:
    env = MazeEnv(generator=RandomWalls(shape=(1, 5), num_walls=0), max_steps=3)
    env.reset(options={"level": corridor})
    results = [env.step(FORWARD) for _ in range(3)]
    _, reward, terminated, truncated, info = results[-1]
    assert truncated and not terminated and reward == 0.0 and info["is_success"] is False


def test_level_as_text_and_bad_levels(room: MazeLevel) -> None:
    env = env_for(room)
    _, info = env.reset(options={"level": room.to_text()})
    assert info["level"] == room
    with pytest.raises(
        LevelError, match="level is 1x5 but this env's inner grid is 5x5; make the env with size=3"
    ):
        env.reset(options={"level": ">...G"})
    with pytest.raises(LevelError, match="MazeLevel or its text"):
        env.reset(options={"level": 42})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"levle": room})
    with pytest.raises(ValueError, match="action must be"):
        env.step(3)


def test_domain_randomization_is_seeded_and_counts_walls() -> None:
    a, b = MazeEnv(num_walls=(3, 9)), MazeEnv(num_walls=(3, 9))
    levels_a = [a.reset(seed=s)[1]["level"] for s in range(20)]
    levels_b = [b.reset(seed=s)[1]["level"] for s in range(20)]
    assert levels_a == levels_b
    assert len(set(levels_a)) == 20
    assert all(3 <= lvl.num_walls <= 9 for lvl in levels_a)
    assert {lvl.num_walls for lvl in levels_a} != {levels_a[0].num_walls}
    exact = MazeEnv(num_walls=60)
    assert exact.reset(seed=1)[1]["level"].num_walls == 60


def test_given_level_does_not_stick(room: MazeLevel) -> None:
    env = MazeEnv(size=7, num_walls=0)
    env.reset(seed=0, options={"level": room})
    _, info = env.reset()
    assert info["level"].num_walls == 0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="size must be between 4"):
        MazeEnv(size=3)
    with pytest.raises(ValueError, match="does not fit a 3x3 grid"):
        MazeEnv(size=5, num_walls=8)
    assert MazeEnv(size=7).generator.wall_range == (4, 4)  # PAIRED's share of walls
    assert MazeEnv().generator.wall_range == (25, 25)
    with pytest.raises(ValueError, match="agent_view_size must be odd"):
        MazeEnv(agent_view_size=4)
    with pytest.raises(ValueError, match="does not match the generator"):
        MazeEnv(size=15, generator=RandomWalls(shape=(5, 5), num_walls=0))


def test_rgb_render(room: MazeLevel) -> None:
    env = env_for(room, render_mode="rgb_array", tile_size=8)
    env.reset(options={"level": room})
    frame = env.render()
    assert frame.shape == (7 * 8, 7 * 8, 3) and frame.dtype == np.uint8
