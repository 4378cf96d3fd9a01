"""Many cases at once: an archive analysed case by case, locally or on a Dask cluster.

:mod:`~iomon.batch.run` runs every case in its own process and writes the cohort files that
:mod:`~iomon.batch.cohort` computes (cohort table, alert audit, failures).
"""

__all__ = ["run_batch"]


def __getattr__(name: str):
    if name == "run_batch":
        from .run import run_batch

        return run_batch
    raise AttributeError(f"module 'iomon.batch' has no attribute {name!r}")
