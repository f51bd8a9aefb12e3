"""What a long command shows while it runs: its steps, its speed, what it is doing now.

The code that does the work reports to the *current* reporter, without knowing how (or whether)
it is shown:

- :func:`task` around a run's training: steps done of a budget, read from a counter;
- :func:`tick` from inner loops (an env step of a rollout): cheap, refreshes the display when due;
- :func:`phase` around a stretch of other work that counts in its own units ("evaluating
  held-out mazes 3/8"), :func:`advance` inside it;
- :func:`metrics` with the values a run records (the SB3 logger's dump), shown as one compact
  line of the key ones, or SB3's table (``verbose``).

The command line picks the reporter with :func:`reporting`: a live rich bar on a terminal, plain
lines when the output is a file or a pipe (no control characters: CI logs stay readable), or
nothing (``--quiet``). Library users who set none see nothing.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO, TypeVar

T = TypeVar("T")

KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("rollout/ep_rew_mean", "return"),
    ("rollout/success_rate", "success"),
    ("eval/mean_reward", "eval return"),
    ("eval/success_rate", "eval success"),
)
"""The values of a run's record shown in its compact metric line, with their short names: SB3's
own, for any run; a run kind adds its own (:func:`task`'s ``metrics``)."""


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def metric_line(
    values: Mapping[str, Any], step: int, keys: Sequence[tuple[str, str]] = KEY_METRICS
) -> str | None:
    """The compact line of a record's key metrics, ``keys`` as ``(key, short name)`` (None when
    it holds none of them)."""
    parts = []
    for key, name in keys:
        value = values.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            parts.append(f"{name} {_number(float(value))}")
    return f"step {step:,}: " + ", ".join(parts) if parts else None


@dataclass
class _Task:
    label: str
    total: int
    count: Callable[[], int]
    start_steps: int
    unit: str = "steps"
    metrics: tuple[tuple[str, str], ...] = KEY_METRICS
    start_time: float = field(default_factory=time.monotonic)

    def counter(self, steps: int) -> str:
        """``done/total unit`` while under the budget; past it (a last iteration runs whole),
        the steps taken and that the budget is reached, not a share above 100%."""
        if steps <= self.total:
            return f"{steps:,}/{self.total:,} {self.unit}"
        return f"{steps:,} {self.unit} (budget {self.total:,} reached)"

    def status(self) -> tuple[int, float, float]:
        """Steps now, steps per second since the task began (evaluations included), ETA."""
        steps = self.count()
        elapsed = time.monotonic() - self.start_time
        done = steps - self.start_steps
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (self.total - steps) / rate if rate > 0 else math.inf
        return steps, rate, max(eta, 0.0)


@dataclass
class _Phase:
    label: str
    total: int | None
    unit: str
    done: int = 0
    start_time: float = field(default_factory=time.monotonic)

    def count(self) -> str:
        """``3/8 mazes`` (``3 mazes`` without a total)."""
        of = f"/{self.total}" if self.total is not None else ""
        return f"{self.done}{of} {self.unit}".rstrip()

    def text(self) -> str:
        return self.label if self.total is None else f"{self.label} {self.count()}"


class Reporter:
    """Shows nothing: the reporter of ``--quiet`` and of library use. Subclasses draw."""

    verbose = False

    def __init__(self) -> None:
        self.tasks: list[_Task] = []
        self.phases: list[_Phase] = []

    # -- what the working code calls (through the module functions)
    def begin_task(self, task: _Task) -> None:
        """A run's training starts."""
        self.tasks.append(task)
        self.refresh(force=True)

    def end_task(self, task: _Task) -> None:
        """A run's training ended."""
        self.refresh(force=True)
        self.tasks.remove(task)

    def begin_phase(self, phase: _Phase) -> None:
        """A stretch of other work starts."""
        self.phases.append(phase)
        self.refresh(force=True)

    def end_phase(self, phase: _Phase) -> None:
        """It ended."""
        self.refresh(force=True)
        self.phases.remove(phase)

    def refresh(self, force: bool = False) -> None:
        """Redraw when due (always with ``force``)."""

    def metrics(self, values: Mapping[str, Any], step: int) -> None:
        """A run recorded ``values`` at ``step``."""

    def message(self, text: str) -> None:
        """One line for the user (the run folder, a result)."""

    def close(self) -> None:
        """Stop drawing."""


class _Shown(Reporter):
    """A reporter that shows lines: its records as the compact metric line at most every
    ``metrics_every_s`` seconds (always when a record holds an evaluation), or as SB3's table
    (``verbose``), through :meth:`message`."""

    metrics_every_s = 10.0
    _next_metrics = 0.0

    def metrics(self, values: Mapping[str, Any], step: int) -> None:
        """SB3's table, or the compact line when due."""
        if self.verbose:
            self.message(sb3_table(values))
            return
        now = time.monotonic()
        evaluated = any(k.startswith(("eval/", "heldout/")) for k in values)
        if not evaluated and now < self._next_metrics:
            return
        keys = self.tasks[-1].metrics if self.tasks else KEY_METRICS
        line = metric_line(values, step, keys)
        if line is not None:
            self._next_metrics = now + self.metrics_every_s
            self.message(line)


class PlainReporter(_Shown):
    """Plain lines, for a file or a pipe: a step line every ``every_s`` seconds (and at each
    tenth of the budget), a line when a phase starts and ends, a metric line per record at most
    every ``every_s`` seconds (always when it holds an evaluation).

    Args:
        stream: where the lines go.
        every_s: the most often a step line or a metric line is printed.
        verbose: print SB3's table of every record instead of the metric line.
    """

    def __init__(self, stream: TextIO | None = None, every_s: float = 30.0, verbose: bool = False):
        super().__init__()
        self.stream = stream if stream is not None else sys.stdout
        self.every_s = self.metrics_every_s = every_s
        self.verbose = verbose
        self._next_line = 0.0
        self._next_tenth = 0
        self._last_steps = -1

    def begin_task(self, task: _Task) -> None:
        """Prints the first step line at once."""
        self._next_line, self._next_tenth, self._last_steps = 0.0, 0, -1
        super().begin_task(task)

    def begin_phase(self, phase: _Phase) -> None:
        """Prints the phase's name."""
        self.phases.append(phase)
        self.message(f"{phase.label}...")

    def end_phase(self, phase: _Phase) -> None:
        """Prints what it did and how long it took."""
        self.phases.remove(phase)
        took = time.monotonic() - phase.start_time
        self.message(f"{phase.text()} in {took:.1f} s")

    def refresh(self, force: bool = False) -> None:
        """A step line when due."""
        if not self.tasks:
            return
        task = self.tasks[-1]
        now = time.monotonic()
        steps = task.count()
        tenth = min(10 * steps // max(task.total, 1), 10)
        if not (force or now >= self._next_line or tenth >= self._next_tenth):
            return
        self._next_line = now + self.every_s
        self._next_tenth = tenth + 1
        if steps == self._last_steps:
            return
        self._last_steps = steps
        steps, rate, eta = task.status()
        pct = f" ({100.0 * steps / max(task.total, 1):.0f}%)" if steps <= task.total else ""
        self.message(
            f"{task.label}: {task.counter(steps)}{pct}, "
            f"{rate:,.0f} {task.unit}/s, eta {_duration(eta)}"
        )

    def message(self, text: str) -> None:
        """Printed as it is."""
        print(text, file=self.stream, flush=True)


class LiveReporter(_Shown):
    """A live rich display on a terminal: a bar of the steps with steps/s and ETA, a row per
    phase, and the metric lines printed above it. The display runs while a task or a phase does;
    its last state stays on the screen.

    Args:
        console: the rich console (default: stdout's).
        every_s: the shortest time between two redraws.
        metrics_every_s: the shortest time between two metric lines (evaluations always print).
        verbose: print SB3's table of every record instead of the metric line.
    """

    def __init__(
        self,
        console: Any = None,
        every_s: float = 0.1,
        metrics_every_s: float = 10.0,
        verbose: bool = False,
    ) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__()
        self.console = console if console is not None else Console()
        self.every_s, self.metrics_every_s, self.verbose = every_s, metrics_every_s, verbose
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            auto_refresh=False,
            transient=False,
        )
        self._ids: dict[int, Any] = {}
        self._next_draw = 0.0

    def _add(self, key: object, label: str, total: int | None) -> None:
        if not (self.tasks or self.phases):  # nothing shown: a new display
            for task_id in list(self.progress.task_ids):
                self.progress.remove_task(task_id)
            self.progress.start()
        self._ids[id(key)] = self.progress.add_task(label, total=total, status="")

    def _stop_if_idle(self) -> None:
        if not (self.tasks or self.phases):
            self.progress.stop()

    def begin_task(self, task: _Task) -> None:
        """A bar of the task's steps."""
        self._add(task, task.label, task.total)
        super().begin_task(task)

    def end_task(self, task: _Task) -> None:
        """The bar stays, at its last count."""
        super().end_task(task)
        self._ids.pop(id(task), None)
        self._stop_if_idle()

    def begin_phase(self, phase: _Phase) -> None:
        """A row of its own, below the step bar."""
        indent = "  " if self.tasks or self.phases else ""
        self._add(phase, f"{indent}{phase.label}", phase.total)
        super().begin_phase(phase)

    def end_phase(self, phase: _Phase) -> None:
        """Its row goes (the last one's stays, finished)."""
        super().end_phase(phase)
        task_id = self._ids.pop(id(phase), None)
        if task_id is not None and (self.tasks or self.phases):
            self.progress.remove_task(task_id)
            self.progress.refresh()
        self._stop_if_idle()

    def refresh(self, force: bool = False) -> None:
        """Redraw, at most every ``every_s`` seconds."""
        now = time.monotonic()
        if not force and now < self._next_draw:
            return
        self._next_draw = now + self.every_s
        for task in self.tasks:
            steps, rate, eta = task.status()
            self.progress.update(
                self._ids[id(task)],
                completed=steps,
                status=f"{task.counter(steps)}, {rate:,.0f}/s, eta {_duration(eta)}",
            )
        for phase in self.phases:
            self.progress.update(
                self._ids[id(phase)],
                completed=phase.done,
                status=phase.count(),
            )
        self.progress.refresh()

    def message(self, text: str) -> None:
        """Printed above the bars."""
        self.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        """The display stops (its last state stays on the screen)."""
        self.progress.stop()


def sb3_table(values: Mapping[str, Any]) -> str:
    """A record as SB3's stdout table (``--verbose``)."""
    rows = []
    for key in sorted(values):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        rows.append((key, f"{value:<8.3g}" if isinstance(value, float) else str(value)))
    if not rows:
        return ""
    width_k = max(len(k) for k, _ in rows)
    width_v = max(len(v) for _, v in rows)
    line = "-" * (width_k + width_v + 7)
    body = [f"| {k:<{width_k}} | {v:<{width_v}} |" for k, v in rows]
    return "\n".join([line, *body, line])


_QUIET = Reporter()
_current: ContextVar[Reporter] = ContextVar("advrl_progress", default=_QUIET)

Mode = Literal["auto", "live", "plain", "quiet"]


def current() -> Reporter:
    """The reporter this code reports to (one that shows nothing, unless a command set one)."""
    return _current.get()


def make_reporter(
    mode: Mode = "auto", verbose: bool = False, stream: TextIO | None = None
) -> Reporter:
    """The reporter for ``mode``: ``auto`` draws live on a terminal and prints plain lines
    otherwise; ``quiet`` shows nothing."""
    stream = stream if stream is not None else sys.stdout
    if mode == "auto":
        mode = "live" if stream.isatty() else "plain"
    if mode == "quiet":
        return Reporter()
    if mode == "live":
        from rich.console import Console

        return LiveReporter(Console(file=stream), verbose=verbose)
    return PlainReporter(stream, verbose=verbose)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Report to ``reporter`` inside the block (closed at its end)."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
        reporter.close()


@contextlib.contextmanager
def task(
    label: str,
    total: int,
    count: Callable[[], int],
    unit: str = "steps",
    metrics: Sequence[tuple[str, str]] = (),
) -> Iterator[None]:
    """Training towards ``total`` steps, ``count()`` steps done so far (read on each redraw);
    ``unit`` names what is counted (UED: ``protagonist steps``); ``metrics``: the run's own key
    metrics, ``(key, short name)``, shown after SB3's (:data:`KEY_METRICS`)."""
    reporter = current()
    keys = (*KEY_METRICS, *metrics)
    t = _Task(label, int(total), count, start_steps=int(count()), unit=unit, metrics=keys)
    reporter.begin_task(t)
    try:
        yield
    finally:
        reporter.end_task(t)


@contextlib.contextmanager
def phase(label: str, total: int | None = None, unit: str = "") -> Iterator[None]:
    """Other work than training steps, in ``total`` units (:func:`advance` counts them)."""
    reporter = current()
    p = _Phase(label, total, unit)
    reporter.begin_phase(p)
    try:
        yield
    finally:
        reporter.end_phase(p)


def counted(items: Sequence[T], label: str, unit: str = "") -> Iterator[T]:
    """``items``, one at a time, as a phase that counts them."""
    with phase(label, len(items), unit):
        for item in items:
            yield item
            advance()


def advance(n: int = 1) -> None:
    """``n`` more units of the innermost phase are done (nothing when no phase is open)."""
    reporter = _current.get()
    if reporter.phases:
        reporter.phases[-1].done += n
        reporter.refresh()


def tick() -> None:
    """A step of some inner loop: redraw if due (cheap when not)."""
    _current.get().refresh()


def metrics(values: Mapping[str, Any], step: int) -> None:
    """A run recorded ``values`` at ``step``."""
    _current.get().metrics(values, step)


def message(text: str) -> None:
    """One line for the user, shown with the progress (nothing when quiet)."""
    _current.get().message(text)
