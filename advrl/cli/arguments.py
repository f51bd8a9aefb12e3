"""What every ``advrl`` command shares: the one-line user error and argument helpers."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


class UserError(Exception):
    """A mistake in what the user asked for; printed as one line."""


def check_out_folder(out: Path) -> None:
    """Fail before any work if ``out``'s folder cannot be made (a file stands in its path); a
    folder that does not exist yet is made when ``out`` is written."""
    existing = next((p for p in out.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{str(existing)!r} is a file, not a folder for {out.name}")


def floats_arg(text: str, what: str) -> list[float]:
    """One or more finite numbers from ``1,2.5,3`` (``what`` names the option in the error)."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise UserError(f"{what} must be one or more finite numbers, got {text!r}")
    return values


def episodes_arg(args: argparse.Namespace, default: int) -> int:
    """``--episodes`` (at least 1), or ``default`` when not given."""
    if args.episodes is None:
        return default
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    return int(args.episodes)


def add_allow_import(parser: argparse.ArgumentParser) -> None:
    """The ``--allow-import MODULE`` option of commands that open a run folder or a file."""
    parser.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="an env id (module:Env) may import this module, wherever the id comes from: a "
        "config, a run folder, --set, a flag, a sweep (only for code you trust)",
    )
