"""The one "every N steps" mechanism of advrl: evaluations, checkpoints and level images."""

from __future__ import annotations

from collections.abc import Callable


class Periodic:
    """Due each time the step count passes another ``every`` steps beyond ``start``
    (``every=0``: never).

    Args:
        every: steps between events (0: never).
        action: what :meth:`__call__` runs when due.
        start: the step count it starts from (the first event is due at ``start + every``).
    """

    def __init__(
        self, every: int, action: Callable[[], None] | None = None, start: int = 0
    ) -> None:
        self.every, self.action = every, action
        self.next: int | None = start + every if every else None

    @classmethod
    def resumed(
        cls, every: int, action: Callable[[], None] | None = None, done: int = 0
    ) -> Periodic:
        """Due at the multiples of ``every`` after ``done`` steps: the events an uninterrupted run
        would have next, for a run resumed at ``done`` (whatever step its checkpoint was at)."""
        return cls(every, action, start=done - done % every if every else 0)

    def due(self, steps: int) -> bool:
        """Whether ``steps`` reached the next boundary; if so, the next one is set past it (once,
        however many boundaries it passed)."""
        if self.next is None or steps < self.next:
            return False
        while self.next <= steps:
            self.next += self.every
        return True

    def __call__(self, steps: int) -> None:
        """Run the action if due."""
        if self.due(steps) and self.action is not None:
            self.action()
