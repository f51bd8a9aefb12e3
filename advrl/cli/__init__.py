"""The ``advrl`` command line.

::

    advrl envs                                   list the registered environments
    advrl --import my_module train mine --config my.yaml   a method or env from your own module
    advrl levels show NAME [--out FILE.png]      draw a level (held-out name, id, or text file)
    advrl train ppo --config configs/ppo-maze.yaml [--set train.seed=3] [--resume RUN]
    advrl train paired|dr|minimax|plr|accel|repaired|degen|sfl --config configs/paired-maze.yaml
    advrl train gail|asaf --config configs/gail-cartpole.yaml [--resume RUN]
    advrl expert train --env CartPole-v1 [--config configs/expert-cartpole.yaml]
    advrl demos record --model RUN --episodes 10 --out demos.npz
    advrl demos info demos.npz
    advrl demos export demos.npz --to imitation|minari --out PATH
    advrl eval RUN [--levels heldout|NAME,NAME] [--episodes N]
    advrl eval RUN [RUN...] --attack pgd --eps 0,0.05,0.1 [--objective kl] [--norm linf]
    advrl plot RUN [RUN...] [--out FOLDER]
    advrl enjoy RUN [--level NAME|FILE|'{g: 3.7}'] [--episodes N] [--video out.mp4]
    advrl sweep --config configs/dr-maze-small.yaml --seeds 0-4 --grid method=dr,plr
    advrl sweep report SWEEP

User mistakes (a missing file, an unknown config key, a bad value) and the file system's answers
(a full disk, a read-only folder, a name too long, a link where advrl writes) end with one
``advrl: error:`` line and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from advrl.cli.arguments import UserError

__all__ = ["UserError", "build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name == "UserError":  # (imported on demand: see :func:`main`)
        from advrl.cli.arguments import UserError

        return UserError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``advrl``."""
    from advrl.cli import demos, evaluate, levels, sweep, train

    parser = argparse.ArgumentParser(prog="advrl", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import your own module first (a name on the Python path or a .py file), e.g. one "
        "that registers a teacher or an env; repeatable; before the command",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    shown = argparse.ArgumentParser(add_help=False)  # the output options of long commands
    output = shown.add_mutually_exclusive_group()
    output.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, only the result and errors"
    )
    output.add_argument(
        "-v", "--verbose", action="store_true", help="every record as SB3's table of values"
    )
    for module in (levels, train, demos, evaluate, sweep):
        module.add_parsers(sub, shown)
    return parser


def describe_os_error(err: OSError) -> str:
    """An ``OSError`` as one line: the path and the system's reason (advrl's own messages, which
    name no path of their own, as they are)."""
    if err.filename is None or not err.strerror:
        return str(err)
    where = repr(str(err.filename))
    if err.filename2 is not None:
        where += f" -> {str(err.filename2)!r}"
    return f"{where}: {err.strerror}"


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"advrl: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advrl`` console script (``argv``: ``sys.argv[1:]`` when None).

    Ctrl-C anywhere, while the libraries load as well as in a command, ends with one line and
    exit status 130 (training first stops at its next safe point with a checkpoint). Run as the
    program (``argv`` None), a Ctrl-C after that is ignored while the process exits, so that a
    user pressing it again does not turn a clean stop into a killed one."""
    try:
        with _HeldInterrupt():  # torch's import calls back into Python from C++, where a
            _load_libraries()  # KeyboardInterrupt aborts the process: hold Ctrl-C until loaded
        return _main(argv)
    except KeyboardInterrupt:
        if argv is None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("advrl: interrupted", file=sys.stderr)
            _exit_now(130)
        print("advrl: interrupted", file=sys.stderr)
        return 130


class _HeldInterrupt:
    """While entered (in the main thread), a Ctrl-C is only noted; it is raised as
    ``KeyboardInterrupt`` on exit, where Python code runs again."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous: Any = None

    def _note(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if self.pressed and exc[0] is None:
            raise KeyboardInterrupt


def _load_libraries() -> None:
    """Import what every command's parser needs (torch, SB3 and advrl's commands)."""
    import advrl.agents.attacks
    import advrl.cli.demos
    import advrl.cli.evaluate
    import advrl.cli.levels
    import advrl.cli.sweep
    import advrl.cli.train
    import advrl.runners.kinds  # noqa: F401


def _exit_now(status: int) -> NoReturn:
    """End the program with ``status`` now. After a Ctrl-C that arrived while a C extension ran
    Python code (torch's import does), CPython ends the process by SIGINT at exit even when the
    ``KeyboardInterrupt`` was caught; everything advrl wrote is closed by the time this runs."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def _main(argv: Sequence[str] | None) -> int:
    from advrl import progress  # (the heavy imports: inside main's Ctrl-C handling)
    from advrl.checks import ConfigError
    from advrl.cli.arguments import UserError
    from advrl.envs.level import LevelError
    from advrl.gail.demos import DemoError
    from advrl.plugins import import_modules, split_imports

    warnings.formatwarning = _one_line_warning
    try:
        modules, argv = split_imports(sys.argv[1:] if argv is None else argv)
        imported = import_modules(modules)  # before the parser: a user's method is a command
    except ConfigError as err:
        print(f"advrl: error: {err}", file=sys.stderr)
        return 2
    parser = build_parser()
    args, flags = parser.parse_known_args(argv)
    if flags and getattr(args, "command", None) != "train":
        parser.error(f"unrecognized arguments: {' '.join(flags)}")
    args.flags = flags
    args.imports = modules
    if imported and hasattr(args, "allow_import"):  # the user's own modules may be env ids
        args.allow_import = [*args.allow_import, *imported]
    mode: progress.Mode = "quiet" if getattr(args, "quiet", False) else "auto"
    try:
        with progress.reporting(progress.make_reporter(mode, getattr(args, "verbose", False))):
            return int(args.func(args))
    except (UserError, ConfigError, LevelError, DemoError) as err:
        print(f"advrl: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except OSError as err:  # the file system's answer: missing, taken, full, read-only, a link
        print(f"advrl: error: {describe_os_error(err)}", file=sys.stderr)
        return 2
