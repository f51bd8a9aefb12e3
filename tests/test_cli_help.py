"""`advrl train <method> --help` lists every setting of the method with its doc line, and the
flags it lists set those settings."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import tyro
import yaml

from advrl.agents.robust import ROBUST_TERMS, TermSettings
from advrl.cli import main
from advrl.config import PPORunConfig, UEDRunConfig, imitation_run_config, load_config
from advrl.pair.methods import TEACHERS

COMMANDS = ["ppo", *TEACHERS, "gail", "asaf"]


@dataclass(frozen=True)
class Section:
    """A section with one undocumented setting."""

    documented: int = 1
    """Something it does."""
    bare: int = 2


def schema_keys(
    cls: type, teacher: type | None = None, prefix: str = "", term: type | None = None
) -> list[str]:
    """The dotted key of every leaf setting of a run schema (``method`` is the command;
    ``teacher`` and ``term``: the classes of the tagged sections)."""
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        tp = {"teacher": teacher, "term": term}.get(f.name) or hints[f.name]
        tp = typing.get_origin(tp) or tp  # a generic section
        if f.name == "method" and not prefix:
            continue
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            keys += schema_keys(tp, None, f"{prefix}{f.name}.", term)
        else:
            keys.append(prefix + f.name)
    return keys


def help_entries(text: str) -> dict[str, str]:
    """``{key: help text}`` of every ``--key`` in a one-column tyro help screen."""
    entries: dict[str, str] = {}
    key = None
    text = text.split("usage: ")[-1]  # tyro's screen (the command's own options come first)
    for line in text.splitlines():
        body = line.strip().strip("│╭╰─").strip()
        flag = re.match(r"--([\w.]+)", body)
        if flag:
            key = flag.group(1)
            parts = re.split(r"\s{2,}", body, maxsplit=1)  # the flag and its type, its help
            entries[key] = parts[1] if len(parts) == 2 else ""
        elif key is not None and body and not body.startswith("─"):
            entries[key] += " " + body
        if line.strip().startswith("╰"):
            key = None
    entries.pop("help", None)
    return entries


def undocumented(entries: dict[str, str]) -> list[str]:
    """The keys whose help is no more than their default."""
    return [k for k, text in entries.items() if not re.search(r"\w{3}", text.split("(default:")[0])]


def command_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("method", COMMANDS)
def test_help_documents_every_setting(
    method: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    entries = help_entries(command_help(["train", method, "--help"], capsys))
    if method == "ppo":
        expected = schema_keys(PPORunConfig, term=TermSettings)
    elif method in TEACHERS:
        expected = schema_keys(UEDRunConfig, TEACHERS[method].settings)
    else:
        expected = schema_keys(imitation_run_config(method))
    assert sorted(entries) == sorted(expected)
    assert undocumented(entries) == []


@pytest.mark.parametrize("adversarial", list(ROBUST_TERMS))
def test_help_documents_each_adversarial_methods_own_settings(
    adversarial: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``adversarial.term`` is the settings of the method the run names: ``--help`` lists that
    method's keys, each with its doc line."""
    monkeypatch.setenv("COLUMNS", "80")
    argv = ["train", "ppo", "--set", f"adversarial.method={adversarial}"]
    if adversarial == "advprop":
        argv += ["--set", "policy.dual_bn=true"]
    entries = help_entries(command_help([*argv, "--help"], capsys))
    term = ROBUST_TERMS[adversarial].Settings
    assert sorted(entries) == sorted(schema_keys(PPORunConfig, term=term))
    assert [f.name for f in dataclasses.fields(term)] == [
        k.removeprefix("adversarial.term.") for k in entries if k.startswith("adversarial.term.")
    ]
    assert undocumented(entries) == []


def test_a_flag_sets_the_adversarial_methods_own_setting(tmp_path: Path) -> None:
    """``--adversarial.term.coef`` is a flag when the run's method (from the file, ``--set`` or
    a flag) has it; where it has not, one line names the flag."""
    root = Path(__file__).resolve().parents[1]
    base = ["train", "ppo", "--config", str(root / "configs" / "robust-cartpole.yaml"), "-q"]
    base += ["--set", "env.n_envs=2", "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=32"]
    base += ["--set", "ppo.n_epochs=1", "--set", "train.total_timesteps=32"]
    base += ["--set", "train.eval_episodes=1", "--set", f"out_dir={tmp_path}"]
    assert main([*base, "--set", "name=w", "--adversarial.term.weight", "0.3"]) == 0
    saved = yaml.safe_load((tmp_path / "w" / "config.yaml").read_text())["adversarial"]
    assert saved["method"] == "pgd_at" and saved["term"] == {"weight": 0.3}
    sa = ["--adversarial.term.coef", "3", "--adversarial.method", "sa"]  # the file's is pgd_at's
    assert main([*base, "--set", "name=sa", *sa]) == 0
    saved = yaml.safe_load((tmp_path / "sa" / "config.yaml").read_text())["adversarial"]
    assert saved["method"] == "sa" and saved["term"] == {"coef": 3.0}
    whole = ["--set", "adversarial={method: sa, eps: 0.1}", "--adversarial.term.coef", "4"]
    assert main([*base, "--set", "name=whole", *whole]) == 0  # the method from the whole section
    saved = yaml.safe_load((tmp_path / "whole" / "config.yaml").read_text())["adversarial"]
    assert saved["method"] == "sa" and saved["term"] == {"coef": 4.0}
    assert main([*base, "--set", "name=x", "--adversarial.term.coef", "3"]) == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("method", ["ppo", "paired", "gail"])
def test_help_lists_the_commands_own_options_and_no_markup(
    method: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = command_help(["train", method, "--help"], capsys)
    for option in ("--config", "--set", "--resume", "--json", "--quiet", "--allow-import"):
        assert re.search(rf"^\s+(-\w, )?{option}\b", text, flags=re.M), option
    assert "``" not in text
    framed = [line for line in text.splitlines() if line.startswith("│")]
    assert framed and len({len(line) for line in framed}) == 1  # frames still line up


def test_the_doc_check_finds_a_setting_without_a_doc_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        tyro.cli(Section, args=["--help"], use_underscores=True)
    entries = help_entries(capsys.readouterr().out)
    assert sorted(entries) == ["bare", "documented"]
    assert undocumented(entries) == ["bare"]


def test_help_shows_the_config_files_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defaults on the help screen are the run's: the file's values, else the method's own
    defaults (ACCEL's replay_prob 0.8 and blank new levels, not PLR's)."""
    monkeypatch.setenv("COLUMNS", "80")
    entries = help_entries(command_help(["train", "accel", "--help"], capsys))
    assert "(default: 0.8)" in entries["teacher.replay_prob"]
    assert "(default: blank)" in entries["teacher.new_levels"]
    config = tmp_path / "c.yaml"
    config.write_text("train: {seed: 7}\nteacher: {num_edits: 2}\n")
    entries = help_entries(command_help(["train", "accel", "--config", str(config), "-h"], capsys))
    assert (
        "(default: 7)" in entries["train.seed"] and "(default: 2)" in entries["teacher.num_edits"]
    )


def test_accel_takes_its_own_defaults_when_a_config_omits_them(tmp_path: Path) -> None:
    """A config without a ``teacher:`` section gets the method's defaults (a bug once: ACCEL got
    PLR's), and sections that name only some keys keep the role's other defaults."""
    config = tmp_path / "c.yaml"
    config.write_text("method: accel\nprotagonist: {ppo: {n_epochs: 3}}\n")
    loaded = load_config(UEDRunConfig, config)
    assert loaded.teacher.replay_prob == 0.8 and loaded.teacher.new_levels == "blank"
    assert loaded.protagonist.ppo.n_epochs == 3
    assert loaded.protagonist.ppo.learning_rate == 1e-4  # the student's default, not PPO's 3e-4
    assert loaded.train.total_timesteps == 1_000_000  # a UED run's default


def test_typed_flags_set_the_run_settings(tmp_path: Path) -> None:
    """``--section.key VALUE`` flags after ``--config`` and ``--set``: the last word wins, and
    the run folder's config.yaml records what ran."""
    from tests.test_ued_cli import tiny_config, write

    config = write(tiny_config("dr", tmp_path), tmp_path / "c.yaml")
    argv = ["train", "dr", "--config", config, "--set", "train.seed=3", "--train.seed", "5"]
    argv += ["--train.total_timesteps", "64", "--env.kwargs", "{size: 7, max_steps: 10}"]
    argv += ["--protagonist.policy.net_arch", "6", "6", "--train.eval_levels", "FourRooms"]
    assert main(argv) == 0
    saved = yaml.safe_load((tmp_path / "dr" / "config.yaml").read_text())
    assert saved["train"]["seed"] == 5 and saved["train"]["total_timesteps"] == 64
    assert saved["env"]["kwargs"] == {"size": 7, "max_steps": 10}
    assert saved["protagonist"]["policy"]["net_arch"] == [6, 6]
    assert saved["train"]["eval_levels"] == ["FourRooms"]


def test_flags_outside_train_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["envs", "--ppo.n_steps", "3"])
    assert "unrecognized arguments: --ppo.n_steps 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--ppo.nsteps", "3"], "Unrecognized options: --ppo.nsteps, 3"),
        (["--ppo.n_steps", "x"], "Error parsing --ppo.n_steps"),
        (["--policy.activation", "sigmoid"], "invalid choice 'sigmoid'"),
        (["--env.kwargs", "[1]"], "expected a YAML mapping"),
    ],
)
def test_a_bad_flag_is_one_line(
    tmp_path: Path, flags: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(Path(__file__).resolve().parents[1] / "configs" / "ppo-maze.yaml")
    argv = ["train", "ppo", "--config", config, "--set", f"out_dir={tmp_path / 'runs'}", *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrl: error:") and problem in err and err.count("\n") == 1
    assert "see advrl train ppo --help" in err
    assert not (tmp_path / "runs").exists()


def test_settings_are_loaded_once_with_set_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config file, ``--set`` and typed flags are merged into one mapping and go through the
    loader once (no dataclass -> dict -> dataclass round trip); the later layer wins."""
    import advrl.config.codec as config_module

    root = Path(__file__).resolve().parents[1]

    loads: list[type] = []
    loader = config_module.from_dict

    def spy(cls: type, data: dict, where: str = "", base: typing.Any = None) -> typing.Any:
        if not where:  # a whole settings object (sections are loaded inside it)
            loads.append(cls)
        return loader(cls, data, where, base)

    monkeypatch.setattr(config_module, "from_dict", spy)
    args = ["train", "ppo", "--config", str(root / "configs" / "ppo-maze.yaml"), "-q"]
    args += ["--set", "env.n_envs=2", "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=64"]
    args += ["--set", "ppo.gamma=0.5", "--ppo.gamma", "0.9", "--train.no_progress_bar"]
    args += ["--policy.net_arch", "8", "8", "--set", "train.total_timesteps=64"]
    args += ["--set", "train.eval_every=0", "--set", "train.eval_episodes=2"]
    args += ["--set", f"out_dir={tmp_path}", "--set", "name=r"]
    assert main(args) == 0
    assert loads == [PPORunConfig]
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["ppo"]["gamma"] == 0.9 and saved["policy"]["net_arch"] == [8, 8]
    assert saved["train"]["progress_bar"] is False and saved["env"]["n_envs"] == 2
