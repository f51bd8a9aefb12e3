"""Pixel envs: a view changes the pixels and nothing else; the renderer draws what it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrl.envs import MazeEnv, RandomWalls
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_pixel_maze import PixelBatchedMaze
from advrl.envs.physics.batched_pixel_cartpole import PixelCartPoleVecEnv
from advrl.envs.physics.pixel_cartpole import CARTPOLE_VIEWS, PixelCartPoleEnv
from advrl.envs.pixel_maze import MAZE_VIEWS, PixelMazeEnv
from advrl.envs.pixels import (
    AGENT_M,
    CART_M,
    GOAL_M,
    POLE_M,
    WALL_M,
    cartpole_materials,
    maze_materials,
    paint,
)
from advrl.envs.vector import make_vec
from advrl.envs.views import VIEW_DIM, View, ViewSpace, resolve_view, views_of

GREY = View(((0.2, 0.2, 0.2), (0.4, 0.4, 0.4), (0.6, 0.6, 0.6), (0.8, 0.8, 0.8)))


def vectors(*views: View) -> torch.Tensor:
    return torch.from_numpy(np.stack([v.vector() for v in views]))


# ---------------------------------------------------------------------- views
@pytest.mark.parametrize("spaces", [MAZE_VIEWS, CARTPOLE_VIEWS], ids=["maze", "cartpole"])
def test_heldout_views_are_never_training_views(spaces: dict[str, ViewSpace]) -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        train, heldout = spaces["train"].sample(rng), spaces["heldout"].sample(rng)
        assert spaces["train"].contains(train) and spaces["heldout"].contains(heldout)
        assert not spaces["train"].contains(heldout)
    default = spaces["default"].sample(rng)
    assert spaces["default"].contains(default) and spaces["default"].sample(rng) == default


def test_view_vector_round_trip_and_bad_views() -> None:
    view = MAZE_VIEWS["heldout"].sample(np.random.default_rng(1))
    again = View.from_vector(view.vector())
    np.testing.assert_allclose(again.vector(), view.vector())
    assert view.vector().shape == (VIEW_DIM,)
    as_dict = {"colors": [[0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 0]], "light": 0.5}
    assert resolve_view(as_dict, MAZE_VIEWS, np.random.default_rng()).light == 0.5
    with pytest.raises(ValueError, match="unknown view field"):
        View.from_dict({**as_dict, "gamma": 2})
    with pytest.raises(ValueError, match="unknown view space 'night'"):
        resolve_view("night", MAZE_VIEWS, np.random.default_rng())
    with pytest.raises(ValueError, match=r"RGB in \[0, 1\]"):
        View(((0, 0, 2), (0, 0, 0), (0, 0, 0), (0, 0, 0)))
    with pytest.raises(ValueError, match="views='night'"):
        PixelMazeEnv(views="night")


def test_overlapping_heldout_space_is_refused() -> None:
    space = MAZE_VIEWS["train"]
    with pytest.raises(ValueError, match="overlaps"):
        views_of(GREY, space, space)


# ---------------------------------------------------------------------- painting
def test_paint_colours_lights_and_textures_by_hand() -> None:
    materials = torch.tensor([[[0, 1], [2, 3]]])  # [1, 2, 2]
    flat = paint(materials, vectors(GREY))[0]
    expected = np.round(np.array([[0.2, 0.4], [0.6, 0.8]]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(flat[..., 0].numpy(), expected)
    assert (flat[..., 0] == flat[..., 2]).all()
    lit = View(GREY.colors, light=0.5, light_slope=0.4)  # gain 0.5 * (1 -+ 0.2) at the edges
    out = paint(materials, vectors(lit))[0, ..., 0].numpy()
    gain = np.array([0.5 * 0.8, 0.5 * 1.2])
    np.testing.assert_array_equal(out, np.round(np.array([[0.2, 0.4], [0.6, 0.8]]) * gain * 255))
    textured = View(GREY.colors, texture=0.5)
    checker = torch.zeros(1, 4, 4, dtype=torch.long)  # all background (0.2)
    out = paint(checker, vectors(textured))[0, ..., 0].numpy()
    dark, light = round(0.2 * 0.5 * 255), round(0.2 * 255)
    assert out[0, 0] == light and out[0, 2] == dark and out[2, 0] == dark and out[2, 2] == light


def test_camera_shift_moves_the_scene_the_other_way() -> None:
    materials = torch.randint(0, 4, (1, 8, 8))
    base = paint(materials, vectors(GREY))[0].numpy().astype(int)
    moved = View(GREY.colors, shift=(1 / 8, 0.0))  # the camera one pixel to the right
    out = paint(materials, vectors(moved))[0].numpy().astype(int)
    np.testing.assert_array_equal(out[:, :-1], base[:, 1:])
    np.testing.assert_array_equal(out[:, -1], base[:, -1])  # the edge is extended
    zoomed = paint(materials, vectors(View(GREY.colors, zoom=2.0)))[0].numpy().astype(int)
    assert not np.array_equal(zoomed, base)


# ---------------------------------------------------------------------- materials
def test_maze_materials_follow_minigrids_view_layout() -> None:
    image = np.ones((1, 5, 5, 3), dtype=np.uint8)  # all empty, indexed [x, y]
    image[0, 0, 2, 0] = 2  # a wall on the agent's far left, two rows ahead
    image[0, 3, 0, 0] = 8  # the goal to the right, at the far end
    m = maze_materials(torch.from_numpy(image), tile=4)[0]
    assert m.shape == (20, 20)
    assert (m[8:12, 0:4] == WALL_M).all() and (m[0:4, 12:16] == GOAL_M).all()
    own = m[16:20, 8:12]  # the agent's cell: bottom middle
    assert (own == AGENT_M).sum() > 4 and own[3, 2] == AGENT_M and own[0, 0] != AGENT_M
    assert (m == WALL_M).sum() == 16 and (m == GOAL_M).sum() == 16


def test_cartpole_materials_put_the_cart_at_x_and_the_pole_at_theta() -> None:
    size = 48
    m = cartpole_materials(
        torch.tensor([0.0, 1.5, 0.0]), torch.tensor([0.0, 0.0, 0.5]), torch.full((3,), 0.5), size
    )
    scale = size / 5.8
    for i, x in enumerate([0.0, 1.5]):
        cols = torch.nonzero((m[i] == CART_M).any(0)).squeeze(1).float()
        assert abs((cols.mean().item() + 0.5) - (size / 2 + x * scale)) < 1.0
    upright, tilted = (torch.nonzero(m[i] == POLE_M) for i in (0, 2))
    assert upright[:, 1].float().std() < 1.0  # one column
    top = tilted[tilted[:, 0].argmin()]
    assert top[1] > size / 2 + 2  # a pole leaning right (theta > 0) has its tip to the right


# ---------------------------------------------------------------------- views change pixels only
def test_a_view_never_changes_the_maze_state() -> None:
    views = [MAZE_VIEWS["default"].sample(np.random.default_rng(0))]
    views.append(MAZE_VIEWS["heldout"].sample(np.random.default_rng(0)))
    envs = [PixelMazeEnv(size=9, max_steps=40, views=v) for v in ("default", "heldout")]
    symbolic = MazeEnv(size=9, max_steps=40)
    rng = np.random.default_rng(0)
    for episode in range(3):
        outs = [
            env.reset(seed=episode, options={"view": v}) for env, v in zip(envs, views, strict=True)
        ]
        sym, sym_info = symbolic.reset(seed=episode)
        assert outs[0][1]["level"] == outs[1][1]["level"] == sym_info["level"]
        assert not np.array_equal(outs[0][0], outs[1][0])
        for (obs, _), view in zip(outs, views, strict=True):  # the symbolic view, drawn
            drawn = paint(maze_materials(torch.from_numpy(sym["image"])[None], 8), vectors(view))
            np.testing.assert_array_equal(obs, drawn[0].numpy())
        done = False
        while not done:
            action = int(rng.integers(3))
            steps = [env.step(action) for env in envs]
            expected = symbolic.step(action)
            for _obs, reward, terminated, truncated, info in steps:
                state = info.pop("state")
                assert (reward, terminated, truncated, info) == expected[1:]
                np.testing.assert_array_equal(state["image"], expected[0]["image"])
            assert envs[0].agent_pos == envs[1].agent_pos == symbolic.agent_pos
            assert not np.array_equal(steps[0][0], steps[1][0])
            done = expected[2] or expected[3]


def test_a_view_never_changes_cartpole() -> None:
    envs = [PixelCartPoleEnv(views="default"), PixelCartPoleEnv(views="heldout")]
    level = {"length": 0.8, "gravity": 12.0}
    outs = [env.reset(seed=5, options={"level": level}) for env in envs]
    np.testing.assert_array_equal(outs[0][1]["state"], outs[1][1]["state"])
    assert outs[0][1]["level"] == outs[1][1]["level"]
    assert not np.array_equal(outs[0][0], outs[1][0])
    for t in range(60):
        steps = [env.step(t % 2) for env in envs]
        (o0, r0, te0, tr0, i0), (o1, r1, te1, tr1, i1) = steps
        np.testing.assert_array_equal(i0["state"], i1["state"])
        assert (r0, te0, tr0) == (r1, te1, tr1)
        assert not np.array_equal(o0, o1)
        if te0:
            break


def test_cartpole_frames_are_stacked_oldest_first() -> None:
    env = PixelCartPoleEnv(views="default", frames=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (48, 48, 9)
    np.testing.assert_array_equal(obs[..., :3], obs[..., 6:])  # a reset repeats its first frame
    frames = [obs[..., 6:]]
    for _ in range(2):
        obs, *_ = env.step(1)
        frames.append(obs[..., 6:])
    np.testing.assert_array_equal(obs, np.concatenate(frames, axis=2))


# ---------------------------------------------------------------------- batched = single
def test_batched_pixel_maze_draws_what_the_single_env_draws() -> None:
    rng = np.random.default_rng(3)
    levels = [RandomWalls(shape=(5, 5), num_walls=(0, 8)).sample(rng) for _ in range(6)]
    views = [MAZE_VIEWS[name].sample(rng) for name in ("train", "heldout") * 3]
    singles = [PixelMazeEnv(size=7, max_steps=12) for _ in levels]
    batched = PixelBatchedMaze(len(levels), size=7, max_steps=12)
    batched.set_levels(levels)
    batched.set_views(views)
    obs_b = batched.reset()
    reset = [{"level": lvl, "view": v} for lvl, v in zip(levels, views, strict=True)]
    obs_s = [env.reset(options=o)[0] for env, o in zip(singles, reset, strict=True)]
    ends = 0
    for _ in range(40):
        for i, obs in enumerate(obs_s):
            np.testing.assert_array_equal(obs, obs_b[i], err_msg=f"slot {i}")
        actions = rng.integers(0, 3, size=len(levels))
        obs_b, rewards, dones, infos = batched.step(actions)
        for i, env in enumerate(singles):
            obs, reward, terminated, truncated, _ = env.step(int(actions[i]))
            assert np.float32(reward) == rewards[i] and dones[i] == (terminated or truncated)
            if dones[i]:
                ends += 1
                np.testing.assert_array_equal(obs, infos[i]["terminal_observation"])
                obs, _ = env.reset(options=reset[i])
            obs_s[i] = obs
    assert ends >= 6
    assert batched.get_attr("view", [1])[0] == View.from_vector(views[1].vector())


def test_batched_pixel_maze_draws_views_and_keeps_batched_maze_levels() -> None:
    pixels = PixelBatchedMaze(64, size=9, seed=4, views="heldout")
    plain = BatchedMaze(64, size=9, seed=4)
    pixels.reset()
    plain.reset()
    assert pixels.levels() == plain.levels()
    drawn = pixels.get_attr("view")
    assert all(MAZE_VIEWS["heldout"].contains(v) for v in drawn)
    assert len({v.vector().tobytes() for v in drawn}) == 64


def test_make_vec_picks_the_batched_pixel_maze() -> None:
    vec = make_vec("advrl/PixelMaze-Small-v0", {}, 4, backend="auto", device="cpu", seed=0)
    assert isinstance(vec, PixelBatchedMaze) and vec.observation_space.shape == (40, 40, 3)
    held = make_vec(
        "advrl/PixelMaze-Small-v0", {"views": "heldout"}, 2, backend="auto", device="cpu", seed=0
    )
    assert all(MAZE_VIEWS["heldout"].contains(v) for v in (held.reset(), held.get_attr("view"))[1])
    gym_vec = make_vec("advrl/PixelMaze-Small-v0", {}, 2, backend="gymnasium", device="cpu", seed=0)
    assert not isinstance(gym_vec, PixelBatchedMaze)
    assert gym_vec.reset().shape == (2, 40, 40, 3)


def test_pixel_envs_get_a_cnn_policy() -> None:
    from stable_baselines3.common.torch_layers import NatureCNN

    from advrl.agents import make_ppo

    model = make_ppo(PixelBatchedMaze(2, size=7), n_steps=8, batch_size=16, seed=0)
    assert isinstance(model.policy.features_extractor, NatureCNN)
    before = model.policy.state_dict()["features_extractor.cnn.0.weight"].clone()
    model.learn(16)
    assert not torch.equal(before, model.policy.state_dict()["features_extractor.cnn.0.weight"])
    with pytest.raises(ValueError, match="not pixels"):
        make_ppo(PixelBatchedMaze(2, size=7), dual_bn=True)


def test_batched_pixel_cartpole_equals_make_vec_env_of_the_single_env() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    batched = make_vec("advrl/PixelCartPole-v1", {}, 4, backend="auto", device="cpu", seed=7)
    assert isinstance(batched, PixelCartPoleVecEnv)
    singles = make_vec_env("advrl/PixelCartPole-v1", n_envs=4, seed=7)
    np.testing.assert_array_equal(batched.reset(), singles.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(250):
        actions = rng.integers(0, 2, 4)
        obs_b, rew_b, done_b, info_b = batched.step(actions)
        obs_s, rew_s, done_s, info_s = singles.step(actions)
        np.testing.assert_array_equal(obs_b, obs_s)
        np.testing.assert_array_equal(rew_b, rew_s)
        np.testing.assert_array_equal(done_b, done_s)
        for b, s in zip(info_b, info_s, strict=True):
            np.testing.assert_array_equal(b["state"], s["state"])
            if "terminal_observation" in s:
                ends += 1
                np.testing.assert_array_equal(b["terminal_observation"], s["terminal_observation"])
                assert b["episode"]["l"] == s["episode"]["l"]
                assert b["episode"]["r"] == s["episode"]["r"]
    assert ends >= 20
    views = singles.get_attr("unwrapped")
    assert batched.get_attr("view") == [View.from_vector(u.view.vector()) for u in views]


def test_large_batches_are_drawn_in_blocks_alike() -> None:
    env = PixelBatchedMaze(300, size=7, seed=2, views="train")
    env.reset()
    whole = paint(maze_materials(env.scenes(), env.tile), env.views)  # one pass over all 300
    np.testing.assert_array_equal(env.observe().numpy(), whole.numpy())


def test_students_that_replay_levels_keep_the_gymnasium_pixel_cartpole() -> None:
    """UED's students need envs that replay fixed levels: the pixel CartPole's batched twin has
    none, so it does not stand in for them (the pixel maze's does: set_levels)."""
    from advrl.pair.students import assign_levels
    from advrl.runners.ued import make_level_env

    kwargs = {"backend": "auto", "device": "cpu", "seed": 0, "levels": True}
    vec = make_vec("advrl/PixelCartPole-v1", {}, 2, factory=make_level_env, **kwargs)
    assert not isinstance(vec, PixelCartPoleVecEnv)
    assign_levels(vec, [{"length": 0.8}, {"gravity": 5.0}])
    vec.reset()
    assert [e.unwrapped.level["length"] for e in vec.envs] == [0.8, 0.5]  # type: ignore[attr-defined]
    maze = make_vec("advrl/PixelMaze-Small-v0", {}, 2, factory=make_level_env, **kwargs)
    assert isinstance(maze, PixelBatchedMaze)
