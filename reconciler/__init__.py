"""Loopform: Dataloop pipelines as code. The import package is `reconciler`."""

__version__ = "0.1.0"
