"""Settings read from YAML strictly: a key twice is an error (the last one no longer wins
silently), deep nesting is refused before Python's stack is, bad YAML in a flag is one line;
--config with --resume, and a --grid key given twice, are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_ued_cli import tiny_config

from advrl.checks import ConfigError
from advrl.cli import main
from advrl.config import UEDRunConfig, load_config
from advrl.sweeps.spec import parse_grid
from advrl.yamlio import MAX_DEPTH, load_yaml


def test_a_key_twice_names_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"'ppo' appears twice \(lines 1 and 3\)"):
        load_yaml("ppo: {n_steps: 8}\nseed: 1\nppo: {batch_size: 4}\n", "c.yaml")
    with pytest.raises(ConfigError, match="'a' appears twice"):
        load_yaml("{a: 1, a: 2}", "--set")
    # a merge key may be overridden, as YAML means it
    assert load_yaml("b: &b {x: 1}\nd:\n  <<: *b\n  x: 2\n", "c.yaml")["d"] == {"x": 2}


def test_deep_nesting_is_one_error_not_a_recursion_error() -> None:
    with pytest.raises(ConfigError, match=f"more than {MAX_DEPTH} levels"):
        load_yaml("[" * 5000 + "]" * 5000, "c.yaml")
    assert load_yaml("[" * 10 + "]" * 10, "c.yaml") == [[[[[[[[[[]]]]]]]]]]


def test_a_config_file_with_a_section_twice_is_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(tiny_config("dr", tmp_path)) + "train: {seed: 3}\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"c\.yaml: the key 'train' appears twice"):
        load_config(UEDRunConfig, tmp_path / "c.yaml")


def test_bad_yaml_in_a_flag_and_config_with_resume_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config("dr", tmp_path)))
    config = ["train", "dr", "--config", str(tmp_path / "c.yaml"), "-q"]
    assert main([*config, "--env.kwargs", "{a: [1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML" in err
    assert main([*config, "--set", "env.kwargs={size: 7, size: 9}"]) == 2
    assert "appears twice" in capsys.readouterr().err
    assert main([*config, "--resume", str(tmp_path)]) == 2
    assert "--config and --resume together" in capsys.readouterr().err


def test_a_grid_key_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="twice"):
        parse_grid(["ppo.ent_coef=0,0.01", "ppo.ent_coef=0.1"])
    assert parse_grid(["ppo.ent_coef=0,0.01"]) == {"ppo.ent_coef": [0, 0.01]}
