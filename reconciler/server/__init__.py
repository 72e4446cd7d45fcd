"""The local control plane: Dataloop's pipelines REST API over a SQLite file (see app.py)."""

from reconciler.server.app import ControlPlane, LoggedRequest, RequestLog

__all__ = ["ControlPlane", "LoggedRequest", "RequestLog"]
