"""Reports over finished runs: what a run folder recorded (:mod:`~advrl.reports.history`), the
figures of ``advrl plot`` (:mod:`~advrl.reports.plots`) and the report of a sweep
(:mod:`~advrl.reports.sweep`). They read run folders and never train."""
