"""Authentication, project isolation, body limits, and that errors never carry a stack trace."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import jwt
import pytest

from reconciler.server.http import MAX_BODY_BYTES

if TYPE_CHECKING:
    from conftest import Api


def test_info_is_public_and_says_local(api: Api) -> None:
    info = api.session.get(api.server.base_url + "/loopform/info").json()
    assert info["server"] == "loopform-local" and info["strict"] is False


@pytest.mark.parametrize("header", [
    None,
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Bearer not-a-jwt",
    "Bearer a.b.c",
])
def test_missing_or_malformed_token_is_401(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    response = api.session.get(api.server.base_url + "/users/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_expired_token_is_401(api: Api) -> None:
    expired = api.server.control_plane.mint_token(ttl_seconds=-10)
    response = api.get("/users/me", token=expired)
    assert response.status_code == 401 and "expired" in response.json()["message"].lower()


def test_forged_tokens_are_401(api: Api) -> None:
    claims = {"email": "local@loopform.dev", "exp": int(time.time()) + 3600}
    forged = jwt.encode(claims, "a-guessed-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        assert api.get("/users/me", token=token).status_code == 401


def test_token_without_email_is_401(api: Api) -> None:
    # Sign with the real secret, to show the claim itself is required.
    secret = api.server.control_plane.store.meta("jwt_secret")
    token = jwt.encode({"exp": int(time.time()) + 3600}, secret, algorithm="HS256")
    assert api.get("/users/me", token=token).status_code == 401


def test_tokens_carry_exp_and_email_for_dtlpy(api: Api) -> None:
    claims = jwt.decode(api.token, options={"verify_signature": False})
    assert claims["email"] == "local@loopform.dev" and claims["exp"] > time.time() + 3600


def test_other_users_do_not_see_the_project_or_its_pipelines(api: Api) -> None:
    created = api.ok(api.post("/pipelines", api.sample("private")))
    pid = created["projectId"]
    eve = api.server.control_plane.mint_token("eve@example.com")
    assert api.get("/users/me", token=eve).json()["email"] == "eve@example.com"
    assert api.get(f"/projects/{pid}", token=eve).status_code == 404
    assert api.get("/projects/local/name", token=eve).status_code == 404
    assert api.get(f"/pipelines/{created['id']}", token=eve).status_code == 404
    assert api.patch(f"/pipelines/{created['id']}", {"name": "mine"}, token=eve).status_code == 404
    assert api.delete(f"/pipelines/{created['id']}", token=eve).status_code == 404
    assert api.post(f"/pipelines/{created['id']}/install", {}, token=eve).status_code == 404
    assert api.post("/pipelines", {"name": "x", "projectId": pid}, token=eve).status_code == 404
    page = api.post("/pipelines/query", {"filter": {"$and": [{"projectId": pid}]}}, token=eve).json()
    assert page["totalItemsCount"] == 0
    # after being added as a member, eve sees it
    api.ok(api.post(f"/projects/{pid}/members/eve@example.com", {"role": "engineer"}))
    assert api.get(f"/pipelines/{created['id']}", token=eve).status_code == 200
    assert api.post(f"/projects/{pid}/members/bob@example.com", {"role": "owner"}, token=eve).status_code == 403


def test_body_over_the_limit_is_413(api: Api) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = api.call("POST", "/pipelines", data=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["status"] == 413


def test_internal_errors_carry_no_stack_trace(api: Api) -> None:
    # Break the store underneath the app: the client sees a plain 500, never a traceback.
    api.server.control_plane.store._db.execute("DROP TABLE pipelines")
    response = api.post("/pipelines", {"name": "x", "projectId": api.project_id})
    assert response.status_code == 500
    assert set(response.json()) == {"status", "message"}
    assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
