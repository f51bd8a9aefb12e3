"""One import policy: an env id ``module:Env`` imports ``module`` only when the user names it with
``--allow-import``, whether the id comes from a config file, ``--set``, a flag, a resumed run or a
sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from test_ued_cli import tiny_config

from advrl.checks import ConfigError
from advrl.cli import main
from advrl.config import check_env_import


@pytest.fixture
def trap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module on the path that leaves a mark if anything imports it."""
    mark = tmp_path / "imported"
    (tmp_path / "trapmod.py").write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "trapmod", raising=False)
    return mark


def _refused(capsys: pytest.CaptureFixture[str], mark: Path) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-import trapmod" in err, err
    assert not mark.exists()


def test_a_config_file_set_and_flags_need_allow_import(
    tmp_path: Path, trap: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config("dr", tmp_path / "runs")
    bad = {**config, "env": {**config["env"], "id": "trapmod:Env-v0"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(config))
    capsys.readouterr()
    assert main(["train", "dr", "--config", str(tmp_path / "bad.yaml"), "-q"]) == 2
    _refused(capsys, trap)
    good = ["train", "dr", "--config", str(tmp_path / "good.yaml"), "-q"]
    assert main([*good, "--set", "env.id=trapmod:Env-v0"]) == 2
    _refused(capsys, trap)
    assert main([*good, "--env.id", "trapmod:Env-v0"]) == 2
    _refused(capsys, trap)
    out = ["--set", f"out_dir={tmp_path / 'experts'}"]
    assert main(["expert", "train", "--env", "trapmod:Env-v0", "-q", *out]) == 2  # a flag too
    _refused(capsys, trap)


def test_a_resumed_run_and_a_sweep_need_allow_import(
    tmp_path: Path, trap: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config("dr", tmp_path / "runs", total_timesteps=64, eval_every=0)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "dr", "--config", str(tmp_path / "c.yaml"), "-q"]) == 0
    capsys.readouterr()
    run = str(tmp_path / "runs" / "dr")
    assert main(["train", "dr", "--resume", run, "-q", "--set", "env.id=trapmod:Env-v0"]) == 2
    _refused(capsys, trap)
    sweep = ["sweep", "--config", str(tmp_path / "c.yaml"), "--seeds", "0", "--out", str(tmp_path)]
    assert main([*sweep, "--set", "env.id=trapmod:Env-v0"]) == 2
    _refused(capsys, trap)


def test_a_named_module_passes_the_policy() -> None:
    check_env_import("trapmod:Env-v0", ["trapmod"], "c.yaml")
    check_env_import("advrl/Maze-v0", [], "c.yaml")  # a registered id imports nothing
    with pytest.raises(ConfigError, match="--allow-import trapmod"):
        check_env_import("trapmod:Env-v0", ["other"], "c.yaml")


def test_a_sweep_folder_never_allows_an_import_itself(
    tmp_path: Path, trap: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A resumed sweep takes ``--allow-import`` from the command that resumes it; one written in
    its ``sweep.yaml`` (a downloaded folder) is ignored."""
    pytest.importorskip("ray")
    config = tiny_config("dr", tmp_path / "runs")
    bad = {**config, "env": {**config["env"], "id": "trapmod:Env-v0"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    folder = tmp_path / "sweep"
    folder.mkdir()
    spec = {"method": "dr", "config": str(tmp_path / "bad.yaml"), "seeds": [0]}
    (folder / "sweep.yaml").write_text(yaml.safe_dump({**spec, "allow_import": ["trapmod"]}))
    capsys.readouterr()
    assert main(["sweep", "--resume", str(folder)]) == 2
    _refused(capsys, trap)
