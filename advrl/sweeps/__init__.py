"""Many seeds and sweeps: ``advrl sweep`` runs a config over seeds and a grid of settings as Ray
Tune trials, each an ordinary advrl run folder (their report: :mod:`advrl.reports.sweep`).

Ray, Optuna and rliable are the optional extra ``advrl[sweep]``; nothing here imports them until a
sweep runs.
"""

from advrl.sweeps.spec import SweepSpec, Trial, parse_grid, parse_seeds

__all__ = ["SweepSpec", "Trial", "parse_grid", "parse_seeds"]
