"""A user's own module from the command line: ``advrl --import MODULE`` makes the methods and envs
it registers usable from every command (train, eval, a sweep's trials), and the env ids that name
it need no ``--allow-import``. The module of the README's "Extending advrl" runs as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_imitation_cli import demos_file, expert_run  # noqa: F401 (fixtures)
from test_ued_cli import tiny_config

from advrl.checks import ConfigError
from advrl.cli import main
from advrl.plugins import import_module, split_imports

ROOT = Path(__file__).resolve().parents[1]


def readme_teacher(folder: Path) -> Path:
    """The README's "Extending advrl" module, as a file."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Extending advrl") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    path = folder / "fixedset_teacher.py"
    path.write_text(code.group(1))
    return path


def on_path(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: str) -> None:
    """A user's module ``name`` holding ``code``, in ``folder`` on the Python path (and not yet
    imported)."""
    (folder / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)


def advrl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "advrl.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_the_readme_teacher_trains_and_evaluates_with_import(tmp_path: Path) -> None:
    module = readme_teacher(tmp_path)
    config = tiny_config("fixedset", tmp_path / "runs", eval_every=0, image_every=0)
    config["teacher"] = {"set_size": 2}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    trained = advrl("--import", str(module), "train", "fixedset", "--config", "c.yaml", "-q",
                    cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    run = tmp_path / "runs" / "fixedset"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "fixedset" and summary["last"]["ued/set_size"] == 2.0
    evaluated = advrl("--import", str(module), "eval", str(run), "--levels", "FourRooms",
                      "--episodes", "2", "-q", cwd=tmp_path)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    alone = advrl("eval", str(run), "--levels", "FourRooms", "--episodes", "2", cwd=tmp_path)
    assert alone.returncode == 2 and alone.stderr.count("\n") == 1, alone.stderr
    assert "unknown method 'fixedset'" in alone.stderr and "--import" in alone.stderr


def test_an_imported_module_may_be_an_env_id_and_its_envs_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    on_path(
        tmp_path,
        monkeypatch,
        "my_envs",
        "import gymnasium\n"
        "from gymnasium.envs.classic_control import CartPoleEnv\n"
        "class ShortPole(CartPoleEnv):\n    pass\n"
        "if 'MyShortPole-v0' not in gymnasium.registry:\n"
        "    gymnasium.register(id='MyShortPole-v0', entry_point=ShortPole, max_episode_steps=20)\n",
    )
    tiny = ["-q", "--set", "train.total_timesteps=64", "--set", "ppo.n_steps=32"]
    tiny += ["--set", "ppo.batch_size=32", "--set", f"out_dir={tmp_path / 'x'}"]
    for k, env_id in enumerate(("MyShortPole-v0", "my_envs:MyShortPole-v0")):
        named = [*tiny, "--set", f"name=r{k}"]
        assert main(["--import", "my_envs", "expert", "train", "--env", env_id, *named]) == 0
    capsys.readouterr()
    monkeypatch.delitem(sys.modules, "my_envs")
    assert main(["expert", "train", "--env", "my_envs:MyShortPole-v0", *tiny]) == 2  # not named
    assert "--allow-import my_envs" in capsys.readouterr().err
    assert "my_envs" not in sys.modules


def test_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, said in [
        (["--import", "no_such_module_here", "envs"], "no module named 'no_such_module_here'"),
        (["--import", str(tmp_path / "none.py"), "envs"], "no such file"),
        (["--import"], "--import needs a module"),
        (["--import=", "envs"], "--import needs a module"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err, err


def test_split_imports_takes_only_the_options_before_the_command() -> None:
    assert split_imports(["--import", "a", "--import=b.c", "train", "dr", "--import", "x"]) == (
        ["a", "b.c"],
        ["train", "dr", "--import", "x"],
    )
    with pytest.raises(ConfigError, match="needs a module"):
        split_imports(["--import", "--quiet"])


def test_a_module_whose_own_import_fails_keeps_its_error(tmp_path: Path) -> None:
    """A missing dependency inside the user's module is the module's error, not "no module"."""
    (tmp_path / "needs_missing.py").write_text("import not_installed_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
        import_module(str(tmp_path / "needs_missing.py"))
    assert "needs_missing" not in sys.modules


def test_an_attack_from_a_users_module_reaches_advrl_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack of :mod:`advrl.agents.attacks.methods`' docstring, registered in a module on
    disk: ``advrl --import`` offers it to ``eval --attack`` and it draws the curve."""
    from advrl.agents.attacks import ATTACKS

    on_path(
        tmp_path,
        monkeypatch,
        "my_attacks",
        "import torch\n"
        "from advrl.agents.attacks import AttackMethod, observation_bounds, register_attack\n"
        "def shifted(attack, policy, obs, generator):\n"
        "    low, high = observation_bounds(policy)\n"
        "    return torch.clamp(obs + attack.eps, low, high)\n"
        "register_attack(AttackMethod('shift', 'every feature moved by +eps', shifted))\n",
    )
    out = ["--set", f"out_dir={tmp_path}", "--set", "name=pole"]
    tiny = ["--set", "train.total_timesteps=64", "--set", "ppo.n_steps=32"]
    assert main(["expert", "train", "--env", "CartPole-v1", "-q", *tiny, *out]) == 0
    attack = ["eval", str(tmp_path / "pole"), "--attack", "shift", "--eps", "0,0.5"]
    attack += ["--episodes", "2", "--no-plot", "-q"]
    try:
        assert main(["--import", "my_attacks", *attack]) == 0
        assert "shift" in capsys.readouterr().out
        curves = list(tmp_path.glob("pole/robustness-shift*.json"))
        assert curves, list((tmp_path / "pole").iterdir())
    finally:
        ATTACKS.pop("shift", None)  # the table is global: leave it as found
    with pytest.raises(SystemExit):  # without the module, argparse's choices refuse it
        main(attack)


TOY_IMITATION = '''
from dataclasses import dataclass

from advrl.gail import GAIL, Discriminator
from advrl.gail.methods import ImitationMethod, register_imitation


@dataclass(frozen=True)
class TinySettings:
    """GAIL with a one-layer discriminator."""

    width: int = 8
    """The discriminator's one hidden layer."""


def build(settings, ctx):
    venv = ctx.model.get_env()
    disc = Discriminator(venv.observation_space, venv.action_space, net_arch=[settings.width])
    return GAIL(venv=venv, model=ctx.model, discriminator=disc, demos=ctx.demos, seed=ctx.seed)


register_imitation(
    ImitationMethod("tinygail", "GAIL, one layer", "tiny", TinySettings, build,
                    lambda s: f"tiny GAIL ({s.width})")
)
'''


def test_an_imitation_method_from_a_users_module_trains_and_resumes(
    tmp_path: Path,
    demos_file: Path,  # noqa: F811 (the fixture)
) -> None:
    """One module, one table entry: ``advrl train tinygail`` takes a ``tiny:`` section, trains,
    resumes and evaluates, its learner handed only its own settings."""
    from test_imitation_cli import imitation_config

    module = tmp_path / "tiny_imitation.py"
    module.write_text(TOY_IMITATION)
    config = yaml.safe_load(imitation_config(tmp_path, "gail", demos_file).read_text())
    del config["discriminator"]
    config.update(method="tinygail", tiny={"width": 4}, name="tiny")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    imported = ["--import", str(module)]
    trained = advrl(*imported, "train", "tinygail", "--config", "c.yaml", "-q", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    run = tmp_path / "runs" / "tiny"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["variant"] == "tiny GAIL (4)" and summary["method"] == "tinygail"
    assert yaml.safe_load((run / "config.yaml").read_text())["tiny"] == {"width": 4}
    more = ["--set", "train.total_timesteps=160"]
    resumed = advrl(*imported, "train", "tinygail", "--resume", str(run), *more, "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["timesteps"] >= 160
    helped = advrl(*imported, "train", "tinygail", "--help", cwd=tmp_path)
    assert "--tiny.width" in helped.stdout, helped.stdout[-2000:]
    wrong = advrl(*imported, "train", "gail", "--config", "c.yaml", cwd=tmp_path)
    assert wrong.returncode == 2 and "tinygail" in wrong.stderr, wrong.stderr


TOY_TERM = """
from dataclasses import dataclass

import torch
from advrl.agents.robust import RobustTerm, Terms, TermSettings, register_term

CALLS = []


@dataclass(frozen=True)
class SmoothSettings(TermSettings):
    coef: float = 1.0


class Smooth(RobustTerm):
    name = "smooth"
    help = "L(s) + coef |log pi(s + noise) - log pi(s)|"
    Settings = SmoothSettings

    def terms(self, model, b, clean):
        noisy = b.target.x + b.eps * torch.randn_like(b.target.x)
        gap = b.target.action_log_probs(noisy) - b.target.action_log_probs(b.target.x)
        CALLS.append(self.settings.coef)
        return Terms(clean.policy_loss, clean.entropy, self.settings.coef * gap.abs().mean())


register_term(Smooth)
"""


def test_a_robust_term_from_a_users_module_trains_ppo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One term class (with its own settings), one table entry: ``adversarial.method: smooth``
    trains robust PPO from the command line, its term called on the update's minibatches with
    ``adversarial.term``'s values."""
    from advrl.agents.robust import ROBUST_TERMS

    on_path(tmp_path, monkeypatch, "my_terms", TOY_TERM)
    sets = ["adversarial.method=smooth", "adversarial.term={coef: 0.5}", "adversarial.eps=0.1"]
    sets += ["env.n_envs=2", "ppo.n_steps=32"]
    sets += ["ppo.batch_size=32", "ppo.n_epochs=1", "train.total_timesteps=64"]
    sets += [f"out_dir={tmp_path}", "name=smooth", "train.eval_episodes=2"]
    argv = ["train", "ppo", "--config", str(ROOT / "configs" / "robust-cartpole.yaml"), "-q"]
    argv += [x for s in sets for x in ("--set", s)]
    try:
        assert main(["--import", "my_terms", *argv]) == 0
        calls = sys.modules["my_terms"].CALLS
        assert calls and set(calls) == {0.5}  # the update went through the term, with its coef
        saved = yaml.safe_load((tmp_path / "smooth" / "config.yaml").read_text())
        assert saved["adversarial"]["method"] == "smooth"
        assert saved["adversarial"]["term"] == {"coef": 0.5}
    finally:
        ROBUST_TERMS.pop("smooth", None)  # the table is global: leave it as found
    assert main(argv) == 2  # without the module: one line naming the methods there are
