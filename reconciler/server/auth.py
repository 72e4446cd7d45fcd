"""Bearer tokens of the local control plane: HS256 JWTs signed with a per-database secret.

dtlpy decodes the token client-side and needs `exp` (more than 60 s ahead) and `email`
(reference 1.3), so tokens carry both. The secret lives in the database: tokens survive restarts
of the same database and are useless against any other one. Tokens are never logged.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from reconciler.server.http import HttpError
from reconciler.server.store import Store

_SECRET_KEY = "jwt_secret"
_ALGORITHM = "HS256"
_ISSUER = "loopform-local"


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token's email, and for a token the engine gave a node execution's
    code, the cycle that execution belongs to (what that code starts is caused by the cycle)."""

    email: str
    cycle: str | None = None


class TokenAuthority:
    def __init__(self, store: Store) -> None:
        self._secret = store.meta_setdefault(_SECRET_KEY, secrets.token_urlsafe(48))

    def mint(self, email: str, *, ttl_seconds: int, cycle: str | None = None) -> str:
        now = int(time.time())
        claims = {"email": email, "sub": email, "iat": now, "exp": now + ttl_seconds, "iss": _ISSUER,
                  **({"cycle": cycle} if cycle else {})}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def email_from_header(self, authorization: str | None) -> str:
        """The email of a valid `Bearer <jwt>` header; HttpError 401 for anything else."""
        return self.caller(authorization).email

    def caller(self, authorization: str | None) -> Caller:
        """Who a valid `Bearer <jwt>` header names; HttpError 401 for anything else."""
        if not authorization:
            raise HttpError(401, "Missing authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "Authorization must be 'Bearer <token>'")
        try:
            claims = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "email"]},
            )
        except jwt.ExpiredSignatureError:
            raise HttpError(401, "Token expired") from None
        except jwt.InvalidTokenError:
            # One message for malformed, forged and incomplete tokens: no oracle for attackers.
            raise HttpError(401, "Invalid token") from None
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise HttpError(401, "Invalid token")
        cycle = claims.get("cycle")
        return Caller(email=email, cycle=cycle if isinstance(cycle, str) else None)
