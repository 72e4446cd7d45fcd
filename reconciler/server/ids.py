"""Identifiers and timestamps in the platform's formats.

Pipelines, executions, commands, variables and platform objects get 24-hex ObjectIds (as the
platform's MongoDB does): 4 bytes of seconds then 8 random bytes, so ids sort roughly by creation
time. Projects, orgs and start nodes get UUIDs, as on the platform (its exported pipelines carry
UUID `startNodes[].id`s). Timestamps are ISO-8601 UTC with
milliseconds and a `Z`, the form the platform returns.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import datetime, timezone


def object_id() -> str:
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def new_uuid() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
