"""Typed configs: unknown keys and bad values are one clear error."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from advrl.config import ConfigError, PPORunConfig, from_dict, load_config, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_shipped_config_loads_and_round_trips(tmp_path: Path) -> None:
    config = load_config(PPORunConfig, CONFIGS / "ppo-maze.yaml")
    assert config.env.id == "advrl/Maze-Small-v0" and config.ppo.learning_rate == 3e-4
    save_config(config, tmp_path / "c.yaml")
    assert load_config(PPORunConfig, tmp_path / "c.yaml") == config


def test_defaults_and_partial_sections() -> None:
    config = from_dict(PPORunConfig, {"train": {"seed": 4}})
    assert config.train.seed == 4 and config.train.total_timesteps == 200_000
    assert config.ppo.n_steps == 128


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"ppo": {"lr": 1}}, "unknown key 'lr' in ppo; valid keys: learning_rate"),
        ({"oops": 1}, "unknown key 'oops'; valid keys: env, ppo"),
        ({"ppo": {"n_steps": "many"}}, "ppo.n_steps must be an integer, got 'many'"),
        ({"ppo": {"n_steps": 1.5}}, "ppo.n_steps must be an integer"),
        ({"ppo": {"learning_rate": "fast"}}, "ppo.learning_rate must be a number"),
        ({"ppo": {"learning_rate": True}}, "ppo.learning_rate must be a number"),
        ({"env": {"vec_env": "threads"}}, "env.vec_env must be 'dummy' or 'subproc'"),
        ({"policy": {"net_arch": [32, "x"]}}, "policy.net_arch must be list or null"),
        ({"train": {"progress_bar": "yes"}}, "train.progress_bar must be true or false"),
        ({"env": {"n_envs": 0}}, "env.n_envs must be positive, got 0"),
        ({"ppo": {"gamma": 1.5}}, "ppo.gamma must be in \\[0, 1\\]"),
        ({"train": {"eval_every": -1}}, "train.eval_every must be >= 0"),
        ({"env": 3}, "env must be a mapping"),
        ({"ppo": {"lr_schedule": "cosine"}}, "ppo.lr_schedule must be 'constant' or 'linear'"),
    ],
)
def test_bad_values_are_named(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        from_dict(PPORunConfig, data)


def test_file_errors_and_overrides(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(PPORunConfig, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(PPORunConfig, bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(PPORunConfig, bad)
    good = tmp_path / "good.yaml"
    good.write_text("ppo:\n  learning_rate: 3e-4\n")  # YAML 1.1 reads this as a string
    config = load_config(PPORunConfig, good, ["train.seed=7", "env.kwargs.size=11"])
    assert config.ppo.learning_rate == 3e-4 and config.train.seed == 7
    assert config.env.kwargs == {"size": 11}
    with pytest.raises(ConfigError, match=re.escape("must look like key.subkey=value")):
        load_config(PPORunConfig, good, ["train.seed"])
    # an error names its source: the override when the file alone is fine, else the file
    with pytest.raises(ConfigError, match=re.escape("--set: unknown key 'sed' in train")):
        load_config(PPORunConfig, good, ["train.sed=1"])
    bad_key = tmp_path / "bad_key.yaml"
    bad_key.write_text("train:\n  sed: 1\n")
    with pytest.raises(ConfigError, match=re.escape("bad_key.yaml: unknown key 'sed' in train")):
        load_config(PPORunConfig, bad_key, ["train.seed=2"])


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path, tmp_path: Path) -> None:
    """Each file under configs/ loads into the schema its name says, and round-trips."""
    from advrl.config import ASAFRunConfig, GAILRunConfig, UEDRunConfig
    from advrl.pair.methods import TEACHERS

    family = path.name.split("-")[0]
    cls: type = {"gail": GAILRunConfig, "asaf": ASAFRunConfig}.get(family, PPORunConfig)
    if family in TEACHERS:
        cls = UEDRunConfig
    config = load_config(cls, path)
    if cls is not PPORunConfig:
        assert config.method == family
    save_config(config, tmp_path / "c.yaml")
    assert load_config(cls, tmp_path / "c.yaml") == config


def test_linear_learning_rate_schedule_reaches_ppo() -> None:
    from advrl.runners.ppo import build_ppo

    config = from_dict(
        PPORunConfig,
        {
            "env": {"id": "CartPole-v1", "n_envs": 1},
            "ppo": {"learning_rate": 0.01, "batch_size": 64},
        },
    )
    assert build_ppo(config).lr_schedule(0.5) == pytest.approx(0.01)
    model = build_ppo(from_dict(PPORunConfig, {"ppo": {"lr_schedule": "linear"}}, base=config))
    assert [model.lr_schedule(p) for p in (1.0, 0.5, 0.0)] == pytest.approx([0.01, 0.005, 0.0])


def test_a_renamed_section_names_its_new_key(tmp_path: Path) -> None:
    from advrl.config import UEDRunConfig

    old = tmp_path / "old.yaml"
    old.write_text("method: plr\nplr: {replay_prob: 0.3}\n")
    with pytest.raises(ConfigError, match="key 'plr' is now 'teacher'"):
        load_config(UEDRunConfig, old)


def test_a_teacher_section_takes_its_methods_keys_only() -> None:
    from advrl.config import UEDRunConfig

    with pytest.raises(ConfigError, match="unknown key 'robust' in teacher; valid keys: buffer_"):
        from_dict(UEDRunConfig, {"method": "accel", "teacher": {"robust": True}})
    with pytest.raises(ConfigError, match="method must be one of paired, dr, minimax, plr, accel"):
        from_dict(UEDRunConfig, {"method": "plrr"})
    plr = from_dict(UEDRunConfig, {"method": "plr", "teacher": {"replay_prob": 0.2}})
    assert plr.teacher.replay_prob == 0.2 and plr.teacher.robust


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("paired", {"regret": "flexible"}),
        ("plr", {"replay_prob": 0.3, "robust": False}),
        ("accel", {"replay_prob": 0.3, "num_edits": 7}),
        ("dr", {}),
    ],
)
def test_run_folders_of_the_earlier_layout_load(
    tmp_path: Path, method: str, expected: dict
) -> None:
    """Earlier run folders wrote ``paired``, ``plr`` and ``accel`` sections for every method; the
    method's own ones become its ``teacher`` (ACCEL read PLR's, less ``robust``, and its own)."""
    from advrl.config import UEDRunConfig, load_run_config

    legacy = {
        "method": method,
        "paired": {"regret": "flexible"},
        "plr": {"replay_prob": 0.3, "robust": False, "buffer_size": 9},
        "accel": {"num_edits": 7},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(legacy))
    config = load_run_config(UEDRunConfig, tmp_path / "config.yaml")
    for key, value in expected.items():
        assert getattr(config.teacher, key) == value
    if method in ("plr", "accel"):
        assert config.teacher.buffer_size == 9


def test_an_imitation_config_has_its_own_methods_section_only(tmp_path: Path) -> None:
    """GAIL's settings have ``discriminator``, ASAF's ``asaf``; the other method's section in a
    user's file is named as such; a run folder of the earlier layout (both sections) loads."""
    from advrl.config import ASAFRunConfig, GAILRunConfig, load_run_config

    gail = from_dict(GAILRunConfig, {"discriminator": {"batch_size": 7}})
    assert gail.discriminator.batch_size == 7 and not hasattr(gail, "asaf")
    assert not hasattr(from_dict(ASAFRunConfig, {}), "discriminator")
    with pytest.raises(
        ConfigError, match="key 'asaf' holds the settings of `advrl train asaf`; a gail config"
    ):
        from_dict(GAILRunConfig, {"asaf": {"window": 1}})
    with pytest.raises(ConfigError, match="key 'discriminator' holds the settings of `advrl tra"):
        from_dict(ASAFRunConfig, {"method": "asaf", "discriminator": {}})
    for method, cls, key, value in [
        ("gail", GAILRunConfig, "discriminator", 7),
        ("asaf", ASAFRunConfig, "asaf", 3),
    ]:
        legacy = {
            "method": method,
            "discriminator": {"batch_size": 7},
            "asaf": {"batch_size": 3},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(legacy))
        config = load_run_config(cls, tmp_path / "config.yaml")
        assert getattr(config, key).batch_size == value


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("sa", {"coef": 2.0}),
        ("pgd_at", {"weight": 0.5}),
        ("fast_bat", {"weight": 0.5, "lmbda": None, "z": "carry"}),
        ("simaug", {"views": ("scale:0.2",), "mixup_alpha": 0.4}),
        ("atla_sa", {"coef": 2.0, "adversary_lr": 0.01}),
        ("none", {}),
    ],
)
def test_ppo_run_folders_with_flat_adversarial_settings_load(
    tmp_path: Path, method: str, expected: dict
) -> None:
    """Earlier PPO run folders wrote every method's settings flat in ``adversarial:``; the
    method's own ones become its ``term`` under today's names, the others' are dropped."""
    from advrl.config import load_run_config

    flat = {
        "method": method,
        "eps": 0.075,
        "adv_weight": 0.5,
        "adv_every": 1,
        "fgsm_step": 1.25,
        "lmbda": None,
        "fast_bat_z": "carry",
        "sa_coef": 2.0,
        "views": ["scale:0.2"],
        "mixup_alpha": 0.4,
        "adversary_lr": 0.01,
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"adversarial": flat}))
    at = load_run_config(PPORunConfig, tmp_path / "config.yaml").adversarial
    assert at.method == method and at.eps == 0.075
    assert dataclasses.asdict(at.term) == expected


def test_the_adversarial_methods_settings_are_its_own_section() -> None:
    """``adversarial.term`` takes the keys of the method ``adversarial.method`` names; a file's
    settings of another method, a moved key and an unknown method each get one line naming
    the fix."""
    from advrl.agents.robust.regularizers import SASettings

    def adversarial(section: dict) -> object:
        return from_dict(PPORunConfig, {"adversarial": section}).adversarial

    sa = adversarial({"method": "sa", "term": {"coef": 2.0}})
    assert sa.term == SASettings(coef=2.0)  # type: ignore[attr-defined]
    assert adversarial({"method": "sa"}).term == SASettings()  # type: ignore[attr-defined]
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'weight' in adversarial.term; valid keys: coef \(the settings of "
        r"method: sa\)",
    ):
        adversarial({"method": "sa", "term": {"weight": 0.5}})
    with pytest.raises(ConfigError, match=r"unknown key 'coef' in adversarial.term; it takes none"):
        adversarial({"term": {"coef": 0.5}})
    with pytest.raises(ConfigError, match=r"key 'sa_coef' in adversarial is now 'term.coef'"):
        adversarial({"method": "sa", "sa_coef": 2.0})
    with pytest.raises(ConfigError, match=r"adversarial.method must be one of none, pgd_at"):
        adversarial({"method": "trades"})
    with pytest.raises(ConfigError, match=r"adversarial.term.weight must be in \[0, 1\]"):
        adversarial({"method": "pgd_at", "term": {"weight": 2}})


def test_naming_another_method_keeps_only_the_settings_it_shares() -> None:
    """A file's ``adversarial.term`` belongs to the method the file names: ``--set`` naming
    another method keeps the keys the other method's settings also have (the rest from its
    defaults, plus the overrides' own keys in any order); naming the same method, or a file that
    names none, keeps it whole; a null or non-mapping section stays the loader's one line; an
    error is placed in the layer that causes it."""
    from advrl.agents.robust.perturbed import FastBATSettings, MixSettings
    from advrl.agents.robust.regularizers import SASettings
    from advrl.config import config_from

    file = {"adversarial": {"method": "pgd_at", "eps": 0.2, "term": {"weight": 0.5}}}

    def term(data: dict, *items: str) -> object:
        at = config_from(PPORunConfig, data, list(items)).adversarial
        assert at.eps == data["adversarial"].get("eps", 0.05)  # the rest of the file stays
        return at.term

    assert term(file) == MixSettings(weight=0.5)
    assert term(file, "adversarial.method=pgd_at") == MixSettings(weight=0.5)
    assert term(file, "adversarial.method=sa") == SASettings()
    assert term(file, "adversarial.term.coef=3", "adversarial.method=sa") == SASettings(coef=3)
    assert term(file, "adversarial.method=fast_bat") == FastBATSettings(weight=0.5)  # shared
    assert term(file, "adversarial.term.weight=0.2") == MixSettings(weight=0.2)
    unnamed = {"adversarial": {"term": {"coef": 2.0}}}  # no method: the file's term stays
    assert term(unnamed, "adversarial.method=sa") == SASettings(coef=2.0)
    with pytest.raises(ConfigError, match=r"--set: unknown key 'weight' in adversarial.term"):
        term(file, "adversarial.method=sa", "adversarial.term.weight=0.5")
    for section in ("null", "5"):
        with pytest.raises(ConfigError, match="--set: adversarial must be a mapping"):
            config_from(PPORunConfig, file, [f"adversarial={section}"])
    bad = {"adversarial": {"method": "pgd_at", "term": {"weight": 2.0}}}  # the file fails too
    with pytest.raises(ConfigError, match=r"^--set: adversarial.term.coef must be >= 0"):
        config_from(PPORunConfig, bad, ["adversarial.method=sa", "adversarial.term.coef=-1"])
    with pytest.raises(ConfigError, match=r"^f.yaml: adversarial.term.weight must be in"):
        config_from(PPORunConfig, bad, ["adversarial.eps=0.1"], source="f.yaml")


def test_a_robust_ppo_pickled_by_an_earlier_version_keeps_its_settings() -> None:
    """SB3's ``model.zip`` pickles the settings: an ``AdversarialTraining`` of the flat layout
    unpickles with its method's own settings in ``term``."""
    import pickle

    from advrl.agents.robust import AdversarialTraining
    from advrl.agents.robust.views import SimAugSettings

    flat = AdversarialTraining.__new__(AdversarialTraining)
    old = {"method": "simaug", "eps": 0.1, "views": ("scene:3",), "mixup_alpha": 0.4}
    old |= {"adv_weight": 1.0, "sa_coef": 0.1, "adversary_lr": 3e-3, "norm": "linf"}
    flat.__dict__.update(old)  # what an earlier version's pickle holds
    at = pickle.loads(pickle.dumps(flat))
    assert at.term == SimAugSettings(views=("scene:3",), mixup_alpha=0.4)
    assert at.eps == 0.1 and not hasattr(at, "sa_coef")
    today = AdversarialTraining(method="sa", eps=0.2)
    assert pickle.loads(pickle.dumps(today)) == today


def test_a_run_resumes_only_with_the_method_it_started_with(tmp_path: Path) -> None:
    """``advrl train plr --resume`` of an ACCEL run is refused in one line naming the command
    that resumes it (its ``teacher:`` would otherwise become PLR's)."""
    from advrl.runners.kinds import resolve_settings

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"method": "accel"}))
    assert resolve_settings("accel", resume=tmp_path).method == "accel"
    with pytest.raises(ConfigError, match=r"is a run of accel: resume it with `advrl train accel"):
        resolve_settings("plr", resume=tmp_path)
