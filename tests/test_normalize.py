"""Running normalization of observations and rewards (``env.normalize``, SB3's ``VecNormalize``),
as MuJoCo agents train: the statistics travel in the checkpoints, come back on resume and when a
run is loaded (frozen), every evaluation normalizes what the policy sees with them, and the run
exports them beside ``model.zip``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from advrl.agents import make_ppo
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.state import normalization_state, set_normalization_state
from advrl.cli import main
from advrl.envs.vector import make_env
from advrl.episodes import PolicyActor, sb3_policy
from advrl.runners.checkpoints import read_checkpoint
from advrl.runners.loading import load_run

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "robust-cartpole.yaml")


def train(out: Path, *sets: str, name: str = "norm") -> int:
    args = ["train", "ppo", "--config", CONFIG, "-q"]
    base = ["adversarial.method=none", "env.n_envs=2", "ppo.n_steps=32", "ppo.batch_size=32"]
    base += ["ppo.n_epochs=1", "train.total_timesteps=128", "train.checkpoint_every=64"]
    base += ["train.eval_episodes=2", "env.normalize.obs=true", "env.normalize.reward=true"]
    base += [f"out_dir={out}", f"name={name}"]
    return main([*args, *(x for s in [*base, *sets] for x in ("--set", s))])


def normalized_venv(seed: int = 0) -> VecNormalize:
    venv = VecNormalize(DummyVecEnv([lambda: make_env("CartPole-v1", {})] * 2), gamma=0.98)
    venv.seed(seed)
    venv.reset()
    for _ in range(20):  # statistics away from their start
        venv.step(np.array([venv.action_space.sample() for _ in range(2)]))
    return venv


def test_the_statistics_round_trip_through_tensors() -> None:
    a, b = normalized_venv(0), normalized_venv(1)
    set_normalization_state(b, normalization_state(a))
    for name in ("mean", "var", "count"):
        assert np.array_equal(getattr(a.obs_rms, name), getattr(b.obs_rms, name)), name
        assert np.array_equal(getattr(a.ret_rms, name), getattr(b.ret_rms, name)), name
    assert np.array_equal(a.returns, b.returns)


def test_the_actors_normalize_what_the_policy_sees() -> None:
    """PolicyActor (batched evaluation) and sb3_policy (one observation) act as ``predict`` on
    the VecNormalize'd observation does."""
    venv = normalized_venv()
    model = make_ppo(venv, n_steps=16, batch_size=16, seed=0)
    obs = (np.random.default_rng(0).normal(size=(64, 4)) * 3).astype(np.float32)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    unnormalized, _ = model.predict(obs, deterministic=True)
    assert not np.array_equal(unnormalized, expected)  # (so the check below can tell)
    actor = PolicyActor(model, deterministic=True)
    actor.begin(np.arange(64, dtype=np.uint64))
    assert np.array_equal(actor.act(obs, np.arange(64)), expected)
    policy = sb3_policy(model, deterministic=True)
    assert [int(policy(o)) for o in obs] == list(expected)


def test_a_run_keeps_and_exports_its_statistics(tmp_path: Path) -> None:
    assert train(tmp_path) == 0
    run = tmp_path / "norm"
    state = read_checkpoint(run / "checkpoints" / "step_128.pt")["agents"]["policy"]["normalize"]
    assert float(state["obs"]["count"]) > 1 and float(state["ret"]["count"]) > 1
    loaded = load_run(run)
    venv = loaded.model.get_vec_normalize_env()
    assert venv is not None and not venv.training  # frozen for evaluation
    torch.testing.assert_close(torch.as_tensor(venv.obs_rms.mean), state["obs"]["mean"])
    exported = ObservationNormalizer.load(run / "normalize.npz")
    torch.testing.assert_close(exported.mean, state["obs"]["mean"].float())
    assert main(["eval", str(run), "--episodes", "2", "-q"]) == 0


def test_a_resumed_run_continues_from_the_checkpoints_statistics(tmp_path: Path) -> None:
    assert train(tmp_path, "train.total_timesteps=64") == 0
    run = tmp_path / "norm"
    saved = read_checkpoint(run / "checkpoints" / "step_64.pt")["agents"]["policy"]["normalize"]
    assert main(["train", "ppo", "--resume", str(run), "--set", "train.total_timesteps=128"]) == 0
    after = read_checkpoint(run / "checkpoints" / "step_128.pt")["agents"]["policy"]["normalize"]
    # the resumed run went on from the saved statistics: 64 more steps of 2 envs counted
    # (plus the reset's observations), not a fresh start's count
    assert float(after["obs"]["count"]) > float(saved["obs"]["count"]) + 60


def test_normalization_is_refused_where_it_cannot_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maze = ["--config", str(ROOT / "configs" / "ppo-maze.yaml"), "--set", "env.normalize.obs=true"]
    assert main(["train", "ppo", *maze, "--set", f"out_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "normalizes Box observations" in err
    assert not any(tmp_path.iterdir())


def test_eps_in_normalized_units_is_a_ball_around_the_normalized_observation() -> None:
    """With ``eps_units: normalized`` the policy sees the normalized observation moved by at most
    eps (SA-PPO's units); with ``env`` it sees the normalization of a raw observation moved by at
    most eps, i.e. at most eps / std per feature."""
    from advrl.agents.attacks import ObservationAttack, attacked_actions

    venv = normalized_venv()
    model = make_ppo(venv, n_steps=16, batch_size=16, seed=0)
    normalizer = ObservationNormalizer.of_env(venv)
    assert normalizer is not None
    space = venv.observation_space  # observations inside the env's bounds
    obs = np.stack([space.sample() for _ in range(8)]).astype(np.float32) * 0.01
    clean = normalizer(torch.as_tensor(obs))
    seen: list[torch.Tensor] = []
    predict = model.predict

    def spy(observation, **kwargs):
        seen.append(torch.as_tensor(observation))
        return predict(observation, **kwargs)

    model.predict = spy  # type: ignore[method-assign]
    for units in ("normalized", "env"):
        attack = ObservationAttack("random", eps=0.1, eps_units=units)
        act = attacked_actions(
            model, attack, True, torch.Generator().manual_seed(0), False, normalizer
        )
        act(obs)
    gap = (seen[0] - clean).abs()
    assert gap.max() <= 0.1 + 1e-5 and gap.max() > 0.05  # the ball in normalized units
    bound = 0.1 / normalizer.scale  # env units: eps over each feature's std
    assert ((seen[1] - clean).abs() <= bound + 1e-5).all()


def test_training_in_normalized_units_perturbs_what_the_policy_sees() -> None:
    """RobustPPO with ``eps_units: normalized`` attacks the rollout's normalized observations
    themselves, within eps (no unnormalizing, no raw bounds)."""
    from advrl.agents import AdversarialTraining, RobustPPO

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    class Spy(RobustPPO):
        def attack(self, target, eps, objective=None):
            adv = super().attack(target, eps, objective)
            seen.append((target.x, adv))
            return adv

    venv = normalized_venv()
    at = AdversarialTraining(method="pgd_at", eps=0.5, steps=3, eps_units="normalized")
    model = Spy("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, adversarial=at)
    model.learn(64)
    assert seen
    buffer = torch.as_tensor(model.rollout_buffer.observations.reshape(-1, 4))
    for x, adv in seen:
        assert (adv - x).abs().max() <= 0.5 + 1e-5
        assert any(torch.allclose(x[0], row) for row in buffer)  # the normalized obs themselves


def test_the_hopper_config_trains_sa_ppo_and_is_attacked_in_normalized_units(
    tmp_path: Path,
) -> None:
    """configs/robust-hopper.yaml, tiny: SA-PPO on MuJoCo's Hopper under normalization, then
    ``advrl eval --attack pgd --eps-units normalized`` on it."""
    pytest.importorskip("mujoco", reason="MuJoCo is the extra advrl[mujoco]")
    config = str(ROOT / "configs" / "robust-hopper.yaml")
    sets = ["adversarial.method=sa", "ppo.n_steps=64", "ppo.n_epochs=1", "ppo.batch_size=32"]
    sets += ["train.total_timesteps=128", "train.eval_episodes=2", "train.checkpoint_every=0"]
    sets += [f"out_dir={tmp_path}", "name=hop"]
    argv = ["train", "ppo", "--config", config, "-q", *(x for s in sets for x in ("--set", s))]
    assert main(argv) == 0
    run = tmp_path / "hop"
    attack = ["eval", str(run), "--attack", "pgd", "--eps", "0,0.075", "--eps-units"]
    assert main([*attack, "normalized", "--episodes", "2", "--steps", "2", "--no-plot", "-q"]) == 0
    assert (run / "normalize.npz").is_file() and (run / "robustness-pgd.json").is_file()
