"""SimAug's and RAD's redrawn scenes on the pixel maze: the right scene behind every sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrl.agents import AdversarialTraining, RobustPPO, make_ppo
from advrl.agents.robust import term_settings
from advrl.agents.robust.views import RADSettings, SimAugSettings
from advrl.agents.scene_views import SceneViews, scene_env
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_pixel_maze import PixelBatchedMaze
from advrl.envs.pixel_maze import MAZE_VIEWS
from advrl.envs.views import View


def robust(
    method: str, views: tuple[str, ...] = ("scene:2",), env_views: str = "train"
) -> RobustPPO:
    vec = PixelBatchedMaze(4, size=7, max_steps=10, seed=0, views=env_views)
    term = term_settings(method)(views=views)  # type: ignore[call-arg]
    at = AdversarialTraining(method=method, eps=4.0, steps=1, term=term)
    model = make_ppo(vec, algorithm=RobustPPO, adversarial=at, n_steps=16, batch_size=32, seed=0)
    assert isinstance(model, RobustPPO)
    return model


def test_recorded_scenes_are_the_scenes_behind_the_buffer_rows() -> None:
    model = robust(
        "simaug", views=("scene:1",), env_views="default"
    )  # one view: rows = drawn scenes
    model.learn(64)  # four rollouts of 4 envs x 16 steps, with auto-resets inside them
    env = scene_env(model.env)
    assert isinstance(env, PixelBatchedMaze)
    scenes = model._scenes
    assert scenes is not None and scenes.shape == (64, 5, 5, 3)
    rows = torch.as_tensor(model.rollout_buffer.observations)  # flattened env-major by train()
    assert rows.shape == (64, 3, 40, 40)
    default = torch.as_tensor(MAZE_VIEWS["default"].bounds()[0]).expand(64, -1)
    redrawn = SceneViews(env, channels_first=True, device="cpu")(scenes, default)
    torch.testing.assert_close(redrawn, rows.float(), rtol=0, atol=0)
    assert len({bytes(s.numpy()) for s in scenes}) > 8  # the agents moved: many scenes


def test_scene_views_draw_the_same_scene_under_other_views() -> None:
    env = PixelBatchedMaze(3, size=7, seed=1, views="default")
    env.reset()
    scenes = env.scenes()
    drawn = SceneViews(env, channels_first=False, device="cpu")
    same = drawn(scenes, env.views)
    np.testing.assert_array_equal(same.to(torch.uint8).numpy(), env.observe().numpy())
    heldout = torch.as_tensor(
        np.stack(
            [MAZE_VIEWS["heldout"].sample(np.random.default_rng(i)).vector() for i in range(3)]
        )
    )
    other = drawn(scenes, heldout)
    assert not torch.equal(other, same)
    env.views = heldout.clone()  # the same slots, now drawn under the held-out views
    np.testing.assert_array_equal(other.to(torch.uint8).numpy(), env.observe().numpy())
    fresh = drawn.sample_views(50)  # from the training views, whatever the env draws
    assert all(MAZE_VIEWS["train"].contains(View.from_vector(v.numpy())) for v in fresh)


@pytest.mark.parametrize("method", ["simaug", "rad"])
def test_scene_view_methods_train_on_the_pixel_maze(method: str) -> None:
    model = robust(method)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(32)
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(torch.isfinite(p).all() for p in after)


def test_rad_trains_on_a_view_never_the_observation_itself() -> None:
    model = robust("rad", views=("scene:1",), env_views="default")
    model.learn(16)  # one rollout: scenes recorded
    from advrl.agents.robust import Minibatch

    data = next(model.rollout_buffer.get(8))
    batch = Minibatch(
        model.policy,
        data.observations,
        data.actions.long().flatten(),
        data.old_log_prob,
        data.advantages,
        0.2,
        4.0,
        {},
        indices=model.rollout_buffer.last_indices,
    )
    (view,) = model.candidate_views(batch)
    assert view.shape == data.observations.shape
    assert not torch.equal(view, data.observations.float())  # training views, not the default


def test_scene_views_need_an_env_that_draws_its_scenes() -> None:
    with pytest.raises(ValueError, match="need a pixel env that draws its scenes"):
        make_ppo(
            BatchedMaze(2, size=7),
            algorithm=RobustPPO,
            adversarial=AdversarialTraining(
                method="simaug", term=SimAugSettings(views=("scene:2",))
            ),
            n_steps=8,
            batch_size=16,
        )
    with pytest.raises(ValueError, match="count >= 1"):
        SimAugSettings(views=("scene:x",))
    with pytest.raises(ValueError, match="rad trains on random views"):
        RADSettings(views=())


def test_pixel_cartpole_redraws_its_frame_stacks() -> None:
    from advrl.envs.physics.batched_pixel_cartpole import PixelCartPoleVecEnv
    from advrl.envs.physics.pixel_cartpole import CARTPOLE_VIEWS

    env = PixelCartPoleVecEnv(3, views="train")
    env.seed(0)
    obs = env.reset()
    for t in range(7):  # frames of different moments in every stack, resets included
        obs, *_ = env.step(np.array([t % 2, 1, 0]))
    scenes = env.scenes()
    assert scenes.shape == (3, 3, 3)
    redrawn = env.draw(scenes, torch.from_numpy(env.views))
    np.testing.assert_array_equal(redrawn.numpy(), obs)
    heldout = torch.as_tensor(
        np.stack(
            [CARTPOLE_VIEWS["heldout"].sample(np.random.default_rng(i)).vector() for i in range(3)]
        )
    )
    assert not np.array_equal(env.draw(scenes, heldout).numpy(), obs)
    at = AdversarialTraining(
        method="simaug", eps=4.0, steps=1, term=SimAugSettings(views=("scene:2",))
    )
    model = make_ppo(env, algorithm=RobustPPO, adversarial=at, n_steps=8, batch_size=24, seed=0)
    model.learn(24)
    assert model._scenes is not None and model._scenes.shape == (24, 3, 3)
