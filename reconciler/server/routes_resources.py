"""Platform objects a spec names (datasets, recipes, models, services) and provisioning them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.server.http import Router

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane


def register(router: Router, plane: ControlPlane) -> None:
    return None
