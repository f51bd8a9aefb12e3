"""GAIL's discriminator: reward forms, gradient penalty, spectral norm, SVC and DiffAugment."""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

import advrl  # noqa: F401
from advrl.agents.lipschitz import SingularValueClipping, clip_singular_values, max_singular_value
from advrl.gail import DiffAugment, Discriminator, discriminator_loss, reward_from_logits
from advrl.gail.augment import AugmentParams
from advrl.gail.discriminator import DiscInput, gradient_penalty

VECTOR = spaces.Box(-1.0, 1.0, (3,), np.float32)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.mark.parametrize("d", [0.1, 0.5, 0.9])
def test_reward_forms_on_known_d(d: float) -> None:
    logits = torch.tensor([logit(d)])
    assert float(reward_from_logits(logits, "gail")) == pytest.approx(-math.log(1 - d), rel=1e-5)
    assert float(reward_from_logits(logits, "logd")) == pytest.approx(math.log(d), rel=1e-5)
    assert float(reward_from_logits(logits, "logit")) == pytest.approx(
        math.log(d) - math.log(1 - d), abs=1e-6
    )
    with pytest.raises(ValueError, match="reward form"):
        reward_from_logits(logits, "exp")  # type: ignore[arg-type]


def linear_disc() -> Discriminator:
    """D with no hidden layer: logit = w . [obs, one_hot(a)] + b."""
    torch.manual_seed(0)
    return Discriminator(VECTOR, spaces.Discrete(2), net_arch=())


def test_gradient_penalty_of_a_linear_discriminator() -> None:
    disc = linear_disc()
    layer = disc.head[0]
    assert isinstance(layer, nn.Linear)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 1.0, -1.0]]))  # |w| = sqrt(27)
    expert = disc.inputs(np.zeros((6, 3), np.float32), np.zeros(6, np.int64))
    gen = disc.inputs(np.ones((6, 3), np.float32), np.ones(6, np.int64))
    penalty = gradient_penalty(disc, expert, gen)
    assert float(penalty.detach()) == pytest.approx((math.sqrt(27) - 1) ** 2, rel=1e-5)
    out = discriminator_loss(
        disc, np.zeros((6, 3)), np.zeros(6, np.int64), np.ones((6, 3)), np.ones(6), grad_penalty=2.0
    )
    assert float(out.loss.detach()) == pytest.approx(
        out.bce + 2.0 * (math.sqrt(27) - 1) ** 2, rel=1e-5
    )
    out.loss.backward()  # the penalty is differentiable in D's weights
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    # zero-centred: |w|^2 = 27, and a flat D pays nothing (WGAN-GP's pays 1)
    assert float(gradient_penalty(disc, expert, gen, center=0.0).detach()) == pytest.approx(
        27, rel=1e-5
    )
    out = discriminator_loss(
        disc, np.zeros((6, 3)), np.zeros(6, np.int64), np.ones((6, 3)), np.ones(6),
        grad_penalty=2.0, grad_penalty_center=0.0,
    )  # fmt: skip
    assert float(out.loss.detach()) == pytest.approx(out.bce + 2.0 * 27, rel=1e-5)
    with torch.no_grad():
        layer.weight.zero_()
    assert float(gradient_penalty(disc, expert, gen, center=0.0).detach()) == 0.0
    assert float(gradient_penalty(disc, expert, gen).detach()) == pytest.approx(1.0)


def test_discriminator_inputs_per_space() -> None:
    maze = gym.make("advrl/Maze-Small-v0")
    disc = Discriminator(maze.observation_space, maze.action_space, net_arch=(8,), conv_filters=4)
    obs = {"image": np.zeros((2, 5, 5, 3), np.uint8), "direction": np.array([0, 3])}
    x = disc.inputs(obs, np.array([0, 2]))
    assert x.image is not None and x.image.shape == (2, 11, 5, 5)
    assert x.image[:, 0].sum() == 2 * 25  # object type 0 everywhere, one-hot
    assert x.flat.shape == (2, 4 + 3)  # direction and action one-hot
    assert disc(obs, np.array([0, 2])).shape == (2,)
    pixels = spaces.Box(0, 255, (48, 48, 3), np.uint8)
    disc = Discriminator(pixels, spaces.Box(-1, 1, (2,), np.float32), net_arch=(8,))
    x = disc.inputs(np.full((2, 48, 48, 3), 255, np.uint8), np.zeros((2, 2), np.float32))
    assert x.image is not None and x.image.shape == (2, 3, 48, 48) and float(x.image.max()) == 1.0
    with pytest.raises(ValueError, match="DiffAugment needs image"):
        Discriminator(VECTOR, spaces.Discrete(2), augment=DiffAugment("cutout"))


def test_spectral_norm_bounds_every_layer() -> None:
    torch.manual_seed(0)
    disc = Discriminator(VECTOR, spaces.Discrete(2), net_arch=(32, 32), spectral_norm=True)
    for _ in range(20):  # power iterations converge as D is used in training mode
        disc(np.random.default_rng(0).normal(size=(8, 3)), np.zeros(8, np.int64))
    disc.eval()
    for layer in disc.head:
        if isinstance(layer, nn.Linear):
            assert float(torch.linalg.svdvals(layer.weight.detach()).max()) == pytest.approx(
                1.0, abs=1e-2
            )


def test_singular_value_clipping_linear_and_conv() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 4 * 4, 16), nn.Linear(16, 1)
    )
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    sigma = max_singular_value(net)
    assert sigma > 2
    before = torch.linalg.svdvals(net[2].weight.detach())
    assert clip_singular_values(net, 0.5) == pytest.approx(sigma)
    for layer in (net[0], net[2], net[3]):
        matrix = layer.weight.reshape(layer.weight.shape[0], -1)
        assert float(torch.linalg.svdvals(matrix.detach()).max()) <= 0.5 + 1e-5
    after = torch.linalg.svdvals(net[2].weight.detach())
    small = before <= 0.5  # values under the bound are kept
    torch.testing.assert_close(after[small], before[small], rtol=1e-4, atol=1e-5)
    clip = SingularValueClipping(net, 0.1, every=3)
    assert clip() is None and clip() is None and clip() is not None
    assert max_singular_value(net) <= 0.1 + 1e-5
    with pytest.raises(ValueError, match="do not combine"):
        clip_singular_values(Discriminator(VECTOR, spaces.Discrete(2), spectral_norm=True), 1.0)


def test_diffaugment_translation_and_cutout_by_hand() -> None:
    aug = DiffAugment("translation,cutout")
    x = torch.arange(16.0).view(1, 1, 4, 4)
    params = aug.sample(1, 4, 4)
    params = type(params)(
        shift=torch.tensor([[1, -1]]), cutout=torch.tensor([[0, 0]]), cutout_size=(1, 2)
    )
    out = aug.apply(x, params)[0, 0]
    # shifted down 1 and left 1: out[r, c] = x[r - 1, c + 1], zero where that is outside
    expected = torch.zeros(4, 4)
    expected[1:, :3] = x[0, 0, :3, 1:]
    expected[0, :2] = 0  # cut out
    torch.testing.assert_close(out, expected)


def test_diffaugment_colours_stacked_frames_one_frame_at_a_time() -> None:
    aug = DiffAugment("color")
    frames = torch.rand(5, 9, 8, 8)  # three RGB frames on the channel axis
    params = aug.sample(5, 8, 8, generator=torch.Generator().manual_seed(1))
    assert params.saturation is not None
    whole = aug.apply(frames, params)
    no_contrast = dataclasses.replace(params, contrast=None)
    for f in range(3):  # brightness and saturation act on each frame alone
        rgb = frames[:, 3 * f : 3 * f + 3]
        expected = rgb + params.brightness.view(-1, 1, 1, 1)  # type: ignore[union-attr]
        mean = expected.mean(1, keepdim=True)
        expected = (expected - mean) * params.saturation.view(-1, 1, 1, 1) + mean
        torch.testing.assert_close(aug.apply(frames, no_contrast)[:, 3 * f : 3 * f + 3], expected)
    assert whole.shape == frames.shape


def reference_augment(x: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """DiffAugment step by step, as the paper's code does it (saturation per RGB frame)."""
    n, c, h, w = x.shape
    x = x + p.brightness.view(-1, 1, 1, 1)  # type: ignore[union-attr]
    groups = x.view(n, c // 3, 3, h, w) if c % 3 == 0 else x.view(n, 1, c, h, w)
    mean = groups.mean(2, keepdim=True)
    x = ((groups - mean) * p.saturation.view(-1, 1, 1, 1, 1) + mean).view(n, c, h, w)  # type: ignore[union-attr]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * p.contrast.view(-1, 1, 1, 1) + mean  # type: ignore[union-attr]
    out = torch.zeros_like(x)
    for i in range(n):
        dy, dx = (int(v) for v in p.shift[i])  # type: ignore[index]
        for r in range(h):
            for col in range(w):
                if 0 <= r - dy < h and 0 <= col - dx < w:
                    out[i, :, r, col] = x[i, :, r - dy, col - dx]
        top, left = (int(v) for v in p.cutout[i])  # type: ignore[index]
        out[i, :, top : top + p.cutout_size[0], left : left + p.cutout_size[1]] = 0
    return out


@pytest.mark.parametrize("channels", [1, 3, 9])
def test_diffaugment_equals_the_step_by_step_transform(channels: int) -> None:
    aug = DiffAugment("color,translation,cutout", translation_ratio=0.25, cutout_ratio=0.4)
    x = torch.rand(6, channels, 8, 8)
    params = aug.sample(6, 8, 8, generator=torch.Generator().manual_seed(channels))
    torch.testing.assert_close(aug.apply(x, params), reference_augment(x, params))


def test_diffaugment_one_transform_for_both_batches_and_gradients() -> None:
    aug = DiffAugment("color,translation,cutout", cutout_ratio=0.3)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(16, 3, 12, 12, requires_grad=True)
    params = aug.sample(16, 12, 12, generator=g)
    a, b = aug.apply(images, params), aug.apply(images.detach().clone(), params)
    torch.testing.assert_close(a, b)  # the same sampled transform on expert and generator
    assert not torch.equal(a, images)
    a.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    # inside D's loss: same-size batches get one transform; expert == generator -> equal logits
    pixels = spaces.Box(0, 255, (12, 12, 3), np.uint8)
    disc = Discriminator(pixels, spaces.Discrete(2), net_arch=(8,), augment=aug)
    obs = np.random.default_rng(0).integers(0, 255, (4, 12, 12, 3), dtype=np.uint8)
    acts = np.zeros(4, np.int64)
    out = discriminator_loss(disc, obs, acts, obs, acts, generator=g)
    assert out.expert_logit == pytest.approx(out.generator_logit)
    with pytest.raises(ValueError, match="same size"):
        discriminator_loss(disc, obs, acts, obs[:3], acts[:3])
    with pytest.raises(ValueError, match="subset of"):
        DiffAugment("rotate")


def test_training_separates_expert_from_generator() -> None:
    torch.manual_seed(0)
    disc = Discriminator(VECTOR, spaces.Discrete(2), net_arch=(16,))
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(100):
        e = rng.normal(0.5, 0.1, (32, 3))
        g = rng.normal(-0.5, 0.1, (32, 3))
        out = discriminator_loss(disc, e, np.zeros(32, np.int64), g, np.ones(32, np.int64))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.expert_acc == 1.0 and out.generator_acc == 1.0
    r_expert = disc.reward(np.full((1, 3), 0.5), np.array([0]))
    r_gen = disc.reward(np.full((1, 3), -0.5), np.array([1]))
    assert r_expert[0] > r_gen[0] >= 0  # -log(1 - D) is higher where D says "expert"
    assert DiscInput(None, torch.zeros(1, 1)).parts()[0].shape == (1, 1)
