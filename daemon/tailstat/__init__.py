"""tailstat: tail log files, parse them in a pool, keep live aggregated statistics."""

__version__ = "0.1.0"
