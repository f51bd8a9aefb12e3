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

import numpy as np
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
            f.flush()
            os.fsync(f.fileno())  # on disk before it takes the name
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


STATE_MAGIC = b"ADVRLST1"
"""The first bytes of a state file with a checksum: magic, 16-byte checksum, 8-byte length."""
_HEADER = len(STATE_MAGIC) + 16 + 8


def checksum(data: bytes) -> bytes:
    """A 16-byte checksum of ``data`` for damage on disk (not for tampering): the sum of its 64-bit
    words and the sum of its 32 KiB blocks' word sums weighted by their position, both modulo
    2**64 (a Fletcher-style sum: a flipped bit changes the first, swapped blocks the second). One
    pass over the data, about a twentieth of the time a checkpoint takes to write."""
    whole = len(data) - len(data) % 32768  # read in place: no copy of a large state
    words = np.frombuffer(data, dtype="<u8", count=whole // 8)
    blocks = words.reshape(-1, 4096).sum(axis=1, dtype=np.uint64)
    if whole < len(data):  # the last, partial block, padded with zeros
        tail = data[whole:] + b"\0" * (-len(data) % 32768)
        blocks = np.append(blocks, np.frombuffer(tail, dtype="<u8").sum(dtype=np.uint64))
    weights = np.arange(1, len(blocks) + 1, dtype=np.uint64)
    first = int(blocks.sum(dtype=np.uint64))
    second = int((blocks * weights).sum(dtype=np.uint64))
    return first.to_bytes(8, "little") + second.to_bytes(8, "little")


def write_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` a state of tensors, numbers and strings, atomically, behind a header with
    its length and :func:`checksum` (:func:`read_state` checks both)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    header = STATE_MAGIC + checksum(data) + len(data).to_bytes(8, "little")
    atomic_write_with(path, lambda f: (f.write(header), f.write(data)))


def read_state(
    path: Path, required: str | None = None, map_location: Any = "cpu"
) -> dict[str, Any]:
    """Load a state written by :func:`write_state` (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign, or lacks the key ``required``.
    """
    raw = Path(path).read_bytes()
    if raw.startswith(STATE_MAGIC):
        stored, size = raw[len(STATE_MAGIC) : len(STATE_MAGIC) + 16], raw[_HEADER - 8 : _HEADER]
        payload = raw[_HEADER:]
        if int.from_bytes(size, "little") != len(payload) or checksum(payload) != stored:
            raise ValueError(
                f"checkpoint {str(path)!r} is damaged (its length or checksum does not match)"
            )
        raw = payload
    try:  # (a state written before checksums has no header)
        state = torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
    except Exception:  # a truncated or foreign file
        raise ValueError(
            f"cannot read checkpoint {str(path)!r} (truncated, damaged, or not written by advrl)"
        ) from None
    if not isinstance(state, dict) or (required is not None and required not in state):
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state
