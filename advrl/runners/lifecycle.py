"""One run lifecycle for every ``advrl train`` method.

Every method runs through :func:`execute`:

1. **build**: the method's :class:`Job` (its trainer and what it evaluates), from the settings alone;
   a bad setting fails here, before anything is written;
2. **open**: a new run folder with the resolved config, or the run being resumed;
3. **resume**: the trainer's state from the latest checkpoint (else the job's fresh start);
4. **learn**, with the periodic events after each iteration (a rollout and its updates), through
   one mechanism, :class:`Periodic`: evaluation, then checkpoint, each every N env steps;
5. **finish**: the final checkpoint, the policy exported, the final evaluation, ``summary.json``
   (a budget that ends on an event's boundary evaluates and checkpoints once, here).

Evaluations run with the global random states put back afterwards, so a run trains the same
whether it evaluates or not, and a resumed run continues exactly as an uninterrupted one.

A trainer is anything with the :class:`Trainer` interface: PPO (plain or robust), the UED runner,
GAIL, ASAF. A checkpoint is the trainer's ``state_dict`` (tensors, numbers and strings: ``agents``,
each SB3 agent's networks, optimizer, counters and env random state; ``rng``, torch's and numpy's
global random states; whatever else the trainer keeps), written atomically and read back with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import csv
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from stable_baselines3.common.logger import (
    CSVOutputFormat,
    HParam,
    KVWriter,
    Logger,
    TensorBoardOutputFormat,
)

from advrl import progress
from advrl.agents.state import isolated_rng
from advrl.config import ConfigError, TrainSettings, flat_dict, save_config, to_dict
from advrl.eval.video import VIDEO_FPS, tensorboard_video
from advrl.files import atomic_write_bytes, read_state, write_state
from advrl.periodic import Periodic
from advrl.runs import CHECKPOINT_RE, STEP_COLUMNS, RunDir, start_run

CHECKPOINT_FORMAT = 2
"""Version of the checkpoint layout; files without one are upgraded by :func:`upgrade_checkpoint`."""


class RunCallback(Protocol):
    """The one extension point of a run: told of its periodic events as they happen (a sweep
    trial reports them to Ray Tune; a user may log them elsewhere or stop early by raising)."""

    def on_evaluation(self, steps: int, metrics: dict[str, float]) -> None:
        """A periodic evaluation at ``steps`` gave ``metrics``."""

    def on_checkpoint(self, steps: int, path: Path) -> None:
        """A checkpoint of ``steps`` was written to ``path``."""


class Trainer(Protocol):
    """What a run trains."""

    step_unit: str
    """What :attr:`num_timesteps` counts, as progress shows it (``steps``; UED:
    ``protagonist steps``)."""

    @property
    def num_timesteps(self) -> int:
        """Env steps taken so far (UED: the protagonist's); the budget counts these."""

    def set_logger(self, logger: Logger) -> None:
        """Record into ``logger`` (the run's TensorBoard and CSV)."""

    def position(self) -> dict[str, float]:
        """The counters that place a record on the run's axes (``time/total_timesteps``; UED:
        ``time/protagonist_steps`` and ``time/iteration``): a row of its own, such as the final
        evaluation's, carries them."""

    def learn(self, total_timesteps: int, after_iteration: Callable[[], None]) -> None:
        """Train until ``num_timesteps`` reaches ``total_timesteps``, calling ``after_iteration``
        after each iteration's updates."""

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (checkpoint-safe)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def close(self) -> None:
        """Release envs and processes."""


@dataclass(frozen=True)
class Finished:
    """What a run's end gives: the summary's method-specific fields, and the final evaluation's
    scalars under the periodic evaluation's names (TensorBoard and ``progress.csv`` get them at
    the final step)."""

    summary: dict[str, Any]
    scalars: dict[str, float]


@dataclass
class Job:
    """One method's run, built from its settings.

    Attributes:
        trainer: what learns.
        evaluate: the periodic evaluation: its scalars (``eval/...``, ``heldout/...``), which the
            lifecycle records to TensorBoard and hands to the run's callbacks.
        finish: after training, in the run folder: exports the policy, evaluates it, and returns
            the summary's method-specific fields and the final evaluation's scalars
            (:class:`Finished`), which the lifecycle records at the final step as it records a
            periodic evaluation's.
        fresh_start: for a new run (not a resumed one), before learning (e.g. behaviour cloning).
        summary: fields of the summary known from the start (env, method, seed, ...).
        video: the frames of one episode of the policy (``train.video_every``).
    """

    trainer: Trainer
    evaluate: Callable[[], dict[str, float]]
    finish: Callable[[RunDir], Finished]
    fresh_start: Callable[[], None] | None = None
    summary: dict[str, Any] | None = None
    video: Callable[[], list[Any]] | None = None


def upgrade_checkpoint(state: dict[str, Any], role: str = "policy") -> dict[str, Any]:
    """A checkpoint of an earlier advrl in today's layout.

    PPO, GAIL and ASAF checkpoints once held one model's ``params``, ``num_timesteps``,
    ``n_updates``, torch's random state and (imitation) ``trainer``; today they hold ``agents``
    by role and ``rng``, as UED checkpoints always did.
    """
    if "agents" in state or "params" not in state:
        return state
    agent = {k: state[k] for k in ("params", "num_timesteps", "n_updates") if k in state}
    upgraded: dict[str, Any] = {"agents": {role: agent}}
    if "torch_rng" in state:
        upgraded["rng"] = {"torch": state["torch_rng"]}
    if "trainer" in state:
        upgraded["trainer"] = state["trainer"]
    return upgraded


def read_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint, in today's layout (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign.
    """
    state = upgrade_checkpoint(read_state(path, map_location=map_location))
    if "agents" not in state:
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state


def write_checkpoint(path: Path, trainer: Trainer) -> None:
    """The trainer's state, atomically."""
    state = {"format": CHECKPOINT_FORMAT, "step": trainer.num_timesteps, **trainer.state_dict()}
    write_state(path, state)


def newest_intact_checkpoint(run: RunDir) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of a run that reads back, with its state; a truncated or foreign
    newer one is skipped with a warning (a kill can interrupt a disk, not only a write)."""
    for path in run.checkpoints_newest_first():
        try:
            state = read_checkpoint(path)
            named = int(CHECKPOINT_RE.fullmatch(path.name).group(1))  # type: ignore[union-attr]
            if "step" in state and int(state["step"]) != named:
                raise ValueError(
                    f"checkpoint {str(path)!r} holds step {int(state['step']):,}, not the "
                    f"{named:,} of its name (renamed?)"
                )
            return path, state
        except ValueError as err:
            warnings.warn(f"{err}; using the checkpoint before it", RuntimeWarning, stacklevel=2)
    return None


FINAL_COLUMN = "eval/final"
"""``progress.csv``'s mark (1) on the row of a run's final evaluation; a run resumed to go on
drops that row, as an uninterrupted run never wrote it at that step."""


class ResumedCSV(CSVOutputFormat):
    """SB3's ``progress.csv`` writer, continuing a resumed run's file: the rows up to the step of
    the checkpoint resumed from are kept (later ones were never checkpointed and are played
    again; a final evaluation's row goes, see :data:`FINAL_COLUMN`), then new rows follow. SB3's
    own writer truncates the file."""

    def __init__(self, filename: Path, keep_until: int) -> None:
        keys: list[str] = []
        rows: list[dict[str, str]] = []
        if filename.is_file():
            try:
                with filename.open(newline="", encoding="utf-8") as f:
                    reader = csv.DictReader(f)
                    keys = list(reader.fieldnames or [])
                    found = [r for r in reader if _complete(r)]
                rows, unreadable = [], 0
                for r in found:
                    step = _row_step(r)
                    if step is None:
                        unreadable += 1
                    elif step <= keep_until and not r.get(FINAL_COLUMN):
                        rows.append(r)
                if unreadable:  # say so, and keep the file as it was
                    damaged = filename.with_suffix(".damaged.csv")
                    atomic_write_bytes(damaged, filename.read_bytes())  # a link there: replaced
                    warnings.warn(
                        f"{filename}: {unreadable} row(s) with an unreadable step were dropped; "
                        f"the file as it was is kept as {damaged.name}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
            except (UnicodeDecodeError, csv.Error) as err:
                damaged = filename.with_suffix(".damaged.csv")
                filename.replace(damaged)
                warnings.warn(
                    f"{filename} could not be read ({err}); kept as {damaged.name}, and the "
                    "history starts again here",
                    RuntimeWarning,
                    stacklevel=2,
                )
                keys, rows = [], []
        filename.unlink(missing_ok=True)  # a link in its place goes, never written through
        super().__init__(str(filename))  # opens a new file "w+"
        self.keys = keys
        if keys:
            writer = csv.DictWriter(self.file, fieldnames=keys, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            self.file.flush()


def _complete(row: dict[str, str]) -> bool:
    """Whether a row has all its fields (a kill can cut the last line short)."""
    return None not in row and None not in row.values()


def _row_step(row: dict[str, str]) -> float | None:
    """A row's step (None: unreadable; -inf for a row that does not say, which is kept)."""
    for column in STEP_COLUMNS:
        if row.get(column):
            try:
                step = float(row[column])
            except ValueError:
                return None
            return step if math.isfinite(step) else None
    return float("-inf")


class ProgressWriter(KVWriter):
    """Hands every record the run dumps to the progress display (its compact metric line)."""

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        """The record's numbers, to :func:`advrl.progress.metrics`."""
        progress.metrics({k: v for k, v in key_values.items() if isinstance(v, (int, float))}, step)

    def close(self) -> None:
        """Nothing to close."""


def config_markdown(settings: dict[str, Any]) -> str:
    """A run's resolved settings as TensorBoard text (Markdown: a code block of the YAML)."""
    text = yaml.safe_dump(settings, sort_keys=False, default_flow_style=None)
    return "\n".join("    " + line for line in text.splitlines())


def hparams(settings: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The settings flattened to ``section.key`` with values TensorBoard's HParams takes (a list
    or None becomes its text)."""
    return {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in flat_dict(settings).items()
    }


def policy_params(run: RunDir, role: str) -> dict[str, Any]:
    """The parameters (SB3's ``get_parameters``) of agent ``role`` in a run's newest intact
    checkpoint.

    Raises:
        ConfigError: the run has no checkpoint that reads back, or none with that agent.
    """
    found = newest_intact_checkpoint(run)
    if found is None:
        raise ConfigError(f"run {str(run.path)!r} has no checkpoint yet")
    path, state = found
    if role not in state["agents"]:
        raise ConfigError(f"{str(path)!r} holds agents {sorted(state['agents'])}, not {role!r}")
    params: dict[str, Any] = state["agents"][role]["params"]
    return params


class StopRequested(Exception):
    """Raised at a safe point (after an update, its checkpoint written) to stop a run on Ctrl-C."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped at step {step}")
        self.step = step


class SafeInterrupt:
    """While entered, the first Ctrl-C (SIGINT) only asks the run to stop at its next safe point
    (after the current update, with a checkpoint: :attr:`requested`); a second one stops at once.
    Outside the main thread (a Ray trial) signals cannot be caught and it does nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
        progress.message("stopping after this update, with a checkpoint (Ctrl-C again: at once)")

    def __enter__(self) -> SafeInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def execute(
    config: Any,
    method: str,
    build: Callable[[], Job],
    *,
    resume: str | Path | None,
    callbacks: Sequence[RunCallback] = (),
) -> dict[str, Any]:
    """Build, open, resume, learn and finish one run; returns the summary written to
    ``summary.json``.

    Args:
        config: the run's settings (written to a new run's ``config.yaml``); its ``train``
            section (:class:`~advrl.config.TrainSettings`) gives the budget and the intervals.
        method: the method's name (the run folder's default name, the summary).
        build: makes the method's :class:`Job`; every setting is checked here.
        resume: a run folder to continue from its latest checkpoint.
        callbacks: told of every periodic evaluation and checkpoint (:class:`RunCallback`).
    """
    with progress.phase(f"building {method}"):
        job = build()  # a bad config fails here, before the run folder exists
    trainer = job.trainer
    run = start_run(config, method, resume)
    with run.lock():
        return _run(run, job, trainer, config, method, resume is not None, callbacks)


def _run(
    run: RunDir,
    job: Job,
    trainer: Trainer,
    config: Any,
    method: str,
    resumed: bool,
    callbacks: Sequence[RunCallback],
) -> dict[str, Any]:
    train: TrainSettings = config.train
    total_timesteps = train.total_timesteps
    logger = Logger(str(run.tb), [])  # its files are opened once the resume has worked
    trainer.set_logger(logger)
    found = newest_intact_checkpoint(run) if resumed else None
    if resumed and found is None:
        if run.checkpoints_newest_first():
            raise ConfigError(
                f"run {str(run.path)!r} has no checkpoint that reads back; start a new run"
            )
        warnings.warn(
            f"run {str(run.path)!r} has no checkpoint yet: it starts again from step 0",
            RuntimeWarning,
            stacklevel=2,
        )
    if found is not None:
        try:
            trainer.load_state_dict(found[1])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ConfigError(
                f"{str(found[0])!r} does not fit this run's settings "
                f"({str(err).strip().splitlines()[0]}); resume with the settings it was written with"
            ) from None
    if resumed:  # what the resumed run goes on with (--set included)
        save_config(config, run.config_file)
    keep_until = trainer.num_timesteps if found is not None else -1  # the checkpoint's step
    csv_format = ResumedCSV(run.tb / "progress.csv", keep_until=keep_until)
    tensorboard = TensorBoardOutputFormat(str(run.tb))
    logger.output_formats += [tensorboard, csv_format]
    settings = to_dict(config)
    tensorboard.writer.add_text("config", config_markdown(settings), trainer.num_timesteps)
    if train.progress_bar:
        logger.output_formats.append(ProgressWriter())
    if found is None and job.fresh_start is not None:
        job.fresh_start()
    done = trainer.num_timesteps

    last: dict[str, float] = {}

    def evaluate() -> None:
        with isolated_rng():  # the same training whether or not, and however often, it evaluates
            metrics = job.evaluate()
        last.update(metrics)
        for key, value in metrics.items():
            logger.record(key, value)
        for callback in callbacks:
            callback.on_evaluation(trainer.num_timesteps, metrics)

    def save() -> None:
        path = run.checkpoint_path(trainer.num_timesteps)
        write_checkpoint(path, trainer)
        run.prune_checkpoints(train.keep_checkpoints)
        for callback in callbacks:
            callback.on_checkpoint(trainer.num_timesteps, path)

    def video() -> None:
        if job.video is None:
            return
        with isolated_rng(), progress.phase("recording a clip"):
            frames = job.video()
        if frames:
            step = trainer.num_timesteps
            tensorboard_video(tensorboard.writer, "video/episode", frames, step, VIDEO_FPS)

    events = [  # on the uninterrupted run's grid of steps, also after a resume
        Periodic.resumed(train.eval_every, evaluate, done),
        Periodic.resumed(train.video_every, video, done),
        Periodic.resumed(train.checkpoint_every, save, done),
    ]

    interrupt = SafeInterrupt()

    def after_iteration() -> None:
        if trainer.num_timesteps < total_timesteps:  # at the end: the final ones, once
            for event in events:
                event(trainer.num_timesteps)
        if interrupt.requested and trainer.num_timesteps < total_timesteps:  # Ctrl-C: stop here
            if run.latest_checkpoint() != run.checkpoint_path(trainer.num_timesteps):
                save()
            raise StopRequested(trainer.num_timesteps)

    if found is not None:
        progress.message(f"run {run.path}: {method}, resumed at step {done:,}")
    else:
        progress.message(f"run {run.path}: {method}")
    start = time.perf_counter()
    if total_timesteps > done:
        bar = (
            progress.task(
                method, total_timesteps, lambda: trainer.num_timesteps, unit=trainer.step_unit
            )
            if train.progress_bar
            else contextlib.nullcontext()
        )
        try:
            with bar, interrupt:
                trainer.learn(total_timesteps, after_iteration)
        except StopRequested as stop:
            progress.message(
                f"stopped at step {stop.step:,} with a checkpoint; continue with advrl train "
                f"{method} --resume {run.path}"
            )
            trainer.close()
            logger.close()
            raise KeyboardInterrupt from None
    elapsed = time.perf_counter() - start
    save()
    finished = job.finish(run)
    last.update(finished.scalars)
    if finished.scalars:  # the final evaluation, as a periodic one, in a row of its own
        for key, value in finished.scalars.items():
            logger.record(key, value)
        for key, value in trainer.position().items():  # (TensorBoard's axis is the step)
            logger.record(key, value, exclude="tensorboard")
        logger.record(FINAL_COLUMN, 1, exclude="tensorboard")
        logger.dump(trainer.num_timesteps)
    summary = {
        "run": str(run.path),
        "method": method,
        **(job.summary or {}),
        "timesteps": int(trainer.num_timesteps),
        "resumed_from": done if found is not None else None,
        "wall_clock_s": round(elapsed, 2),
        "env_steps_per_s": round((trainer.num_timesteps - done) / elapsed, 1)
        if elapsed > 0
        else None,
        **finished.summary,
    }
    run.write_summary(summary)
    if last:  # the settings beside the last evaluation's metrics, in TensorBoard's HParams tab
        record = HParam(hparams(settings), dict(last))  # TensorBoard's alone: no row in the CSV
        tensorboard.write({"hparams": record}, {"hparams": ()}, trainer.num_timesteps)
    trainer.close()
    logger.close()
    return summary
