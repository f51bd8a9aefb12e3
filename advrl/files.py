"""Files written safely: atomically (a fresh temporary file, then a rename), never through a
symbolic link, and without pickles.

Every file advrl writes goes through :func:`atomic_write_bytes` (or :func:`atomic_write_with`
for a writer that wants a file object, such as SB3's ``model.save``) or, for the few files kept
open (the run's lock), :func:`open_no_follow`. The temporary file is created new
(``O_CREAT | O_EXCL``), so a link planted under any name is never opened, and the rename replaces
a link at the destination instead of writing through it. A run folder that holds links is refused
before anything is written (:func:`check_no_links`).

States hold tensors, numbers and strings only and load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

TEMPORARY_SUFFIX = ".tmp"
"""The suffix of the temporary files of :func:`atomic_write_bytes` (a kill can leave one)."""


class LinkError(OSError):
    """advrl was asked to write through, or into a folder holding, a symbolic link."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: into a new temporary file beside it, then a rename (which
    replaces whatever ``path`` was, a link included, and never writes through one)."""
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_with(path: Path, write: Callable[[io.BufferedIOBase], Any]) -> None:
    """``write(file)`` into a new temporary file beside ``path``, then rename it to ``path``; on
    any error the temporary file is removed and ``path`` is as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX
    )  # O_CREAT | O_EXCL: a new file, not a link
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_no_follow(path: Path, flags: int = os.O_RDWR | os.O_CREAT, mode: str = "r+") -> IO[str]:
    """Open ``path`` (created if missing) as text, refusing a symbolic link in its place.

    Raises:
        LinkError: ``path`` is a symbolic link.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError:
        if Path(path).is_symlink():
            raise LinkError(
                f"{str(path)!r} is a symbolic link; advrl never writes through one (remove it)"
            ) from None
        raise
    return os.fdopen(fd, mode, encoding="utf-8")


def check_no_links(folder: Path, depth: int = 2) -> None:
    """Refuse ``folder`` if it, or anything inside it down to ``depth`` levels, is a symbolic
    link: a run folder may come from elsewhere, and advrl writes only inside it.

    Raises:
        LinkError: naming the first link found.
    """
    folder = Path(folder)
    if folder.is_symlink():
        raise LinkError(
            f"{str(folder)!r} is a symbolic link; give the folder it points to, which advrl then "
            "writes into"
        )
    pending = [(folder, 0)]
    while pending:
        current, level = pending.pop()
        try:
            entries = sorted(current.iterdir())
        except (NotADirectoryError, FileNotFoundError):
            continue
        for entry in entries:
            if entry.is_symlink():
                raise LinkError(
                    f"{str(folder)!r} holds a symbolic link, {entry.relative_to(folder)}; advrl "
                    "writes only inside a run folder and never through links: replace the link "
                    "with a copy of the file, or remove it"
                )
            if level + 1 < depth and entry.is_dir():
                pending.append((entry, level + 1))


def write_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` a state of tensors, numbers and strings, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_state(
    path: Path, required: str | None = None, map_location: Any = "cpu"
) -> dict[str, Any]:
    """Load a state written by :func:`write_state` (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign, or lacks the key ``required``.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # a truncated or foreign file
        raise ValueError(
            f"cannot read checkpoint {str(path)!r} (truncated, damaged, or not written by advrl)"
        ) from None
    if not isinstance(state, dict) or (required is not None and required not in state):
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state
