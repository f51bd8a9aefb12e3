"""No write outside the run folder: the one writer never follows a symbolic link, a run folder
holding links is refused before anything is written, and the file system's answers are one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from test_ued_cli import tiny_config

from advrl.cli import main
from advrl.files import LinkError, atomic_write_bytes, check_no_links, open_no_follow


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every run folder, which no advrl write may touch."""
    target = tmp_path / "outside" / "precious.txt"
    target.parent.mkdir()
    target.write_text("keep me")
    return target


def test_atomic_writes_never_go_through_a_link(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    for planted in (".state.tmp", ".state.pt.tmp", ".state.partial"):  # any name a writer used
        (folder / planted).symlink_to(outside)
    (folder / "state").symlink_to(outside)  # the destination itself
    atomic_write_bytes(folder / "state", b"new")
    assert outside.read_text() == "keep me"
    assert (folder / "state").read_bytes() == b"new" and not (folder / "state").is_symlink()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    from advrl.files import atomic_write_with

    path = tmp_path / "f"
    path.write_bytes(b"old")

    def broken(f: object) -> None:
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        atomic_write_with(path, broken)
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["f"]


def test_open_no_follow_and_check_no_links_refuse_links(tmp_path: Path, outside: Path) -> None:
    (tmp_path / ".lock").symlink_to(outside)
    with pytest.raises(LinkError, match="symbolic link"):
        open_no_follow(tmp_path / ".lock")
    run = tmp_path / "run"
    (run / "tb").mkdir(parents=True)
    check_no_links(run)
    (run / "tb" / "progress.csv").symlink_to(outside)
    with pytest.raises(LinkError, match=r"tb/progress.csv"):
        check_no_links(run)
    (tmp_path / "alias").symlink_to(run, target_is_directory=True)
    with pytest.raises(LinkError, match="is a symbolic link"):
        check_no_links(tmp_path / "alias")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("links")
    config = tiny_config("dr", folder, total_timesteps=64, eval_every=0)
    (folder / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "dr", "--config", str(folder / "c.yaml"), "-q"]) == 0
    return folder / "dr"


@pytest.mark.parametrize(
    "where", [".lock", "tb/progress.csv", "protagonist.zip", "checkpoints/.step_128.pt.tmp"]
)
def test_resume_and_eval_refuse_a_run_folder_holding_a_link(
    finished: Path, tmp_path: Path, outside: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished, run)
    (run / where).unlink(missing_ok=True)
    (run / where).symlink_to(outside)
    capsys.readouterr()
    more = ["--set", "train.total_timesteps=128"]
    assert main(["train", "dr", "--resume", str(run), "-q", *more]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symbolic link" in err and where in err
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert outside.read_text() == "keep me"


@pytest.mark.parametrize("where", ["plots", "run"])
def test_plot_refuses_to_write_through_a_link(
    finished: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`advrl plot RUN` writes RUN/plots (figures and their TensorBoard log): a plots folder that
    is a link, or a run folder that is one, is refused before anything is written."""
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished, run)
    outside = tmp_path / "outside"
    outside.mkdir()
    if where == "plots":
        (run / "plots").symlink_to(outside, target_is_directory=True)
        target = run
    else:
        target = tmp_path / "linked"
        target.symlink_to(run, target_is_directory=True)
    capsys.readouterr()
    assert main(["plot", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symbolic link" in err
    assert list(outside.iterdir()) == []


def test_the_file_systems_answers_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tiny_config("dr", blocker, total_timesteps=64)  # out_dir is a file
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "dr", "--config", str(tmp_path / "c.yaml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrl: error: ") and err.count("\n") == 1
    assert "a-file" in err


def test_eval_writes_nothing_it_need_not_and_survives_a_read_only_run_folder(
    finished: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished, run)
    shutil.rmtree(run / "tb")  # a reader creates no folder in a run
    capsys.readouterr()

    def read_only(*_: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("advrl.eval.zero_shot.write_table", read_only)
    with pytest.warns(RuntimeWarning, match="could not save .*Read-only file system"):
        assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert "mean solve rate" in capsys.readouterr().out  # the result is printed all the same
    assert not (run / "tb").exists()
