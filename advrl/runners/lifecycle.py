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
GAIL, ASAF. A checkpoint is the trainer's ``state_dict`` (:mod:`advrl.runners.checkpoints`); the
CSV, TensorBoard text and HParams a run writes are in :mod:`advrl.runners.outputs`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stable_baselines3.common.logger import (
    HParam,
    Logger,
    TensorBoardOutputFormat,
)

from advrl import progress
from advrl.agents.state import isolated_rng
from advrl.config import ConfigError, TrainSettings, save_config, to_dict
from advrl.eval.video import VIDEO_FPS, tensorboard_video
from advrl.periodic import Periodic
from advrl.runners.checkpoints import newest_intact_checkpoint, write_checkpoint
from advrl.runners.outputs import (
    FINAL_COLUMN,
    ProgressWriter,
    ResumedCSV,
    config_markdown,
    hparams,
)
from advrl.runs import RunDir, start_run


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
        metrics: the run's own key metrics for the progress display's line, ``(key, short
            name)``, shown after SB3's (:data:`advrl.progress.KEY_METRICS`).
    """

    trainer: Trainer
    evaluate: Callable[[], dict[str, float]]
    finish: Callable[[RunDir], Finished]
    fresh_start: Callable[[], None] | None = None
    summary: dict[str, Any] | None = None
    video: Callable[[], list[Any]] | None = None
    metrics: tuple[tuple[str, str], ...] = ()


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
        write_checkpoint(path, trainer.num_timesteps, trainer.state_dict())
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
                method,
                total_timesteps,
                lambda: trainer.num_timesteps,
                unit=trainer.step_unit,
                metrics=job.metrics,
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
