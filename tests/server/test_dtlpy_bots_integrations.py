"""Bots and integrations, enough for the pipelines and services that name them: created, listed and
read through dtlpy (bots are created over raw HTTP: dtlpy 1.126.5's `bots.create` is a no-op);
an integration's secret values are neither returned nor stored."""

from __future__ import annotations

import pytest
import requests
from harness import DtlpySdk

SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def test_a_bot_is_a_member_listed_by_dtlpy(sdk: DtlpySdk) -> None:
    response = requests.post(f"{sdk.server.base_url}/projects/{sdk.project.id}/bots", json={"name": "Runner Bot"},
                             headers={"authorization": f"Bearer {sdk.server.token}"}, timeout=30)
    response.raise_for_status()
    created = response.json()
    bots = sdk.project.bots.list()
    assert [(b.id, b.name, b.type) for b in bots] == [(created["id"], "Runner Bot", "bot")]
    assert sdk.project.bots.get(bot_id=created["id"]).email == created["email"]
    assert created["email"] in [m.email for m in sdk.project.list_members()]
    assert sdk.project.bots.delete(bot_id=created["id"]) is True
    assert sdk.project.bots.list() == []


def test_integrations_keep_no_secret(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    made = sdk.project.integrations.create(integrations_type=dl.IntegrationType.KEY_VALUE, name="api-key",
                                           options={"key": "token", "value": SECRET})
    assert made.name == "api-key" and made.type == "key_value"
    assert [i["name"] for i in sdk.project.integrations.list()] == ["api-key"]
    assert sdk.project.integrations.get(integrations_id=made.id).id == made.id
    db = sdk.server.control_plane.db_path
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert sdk.project.integrations.delete(integrations_id=made.id, sure=True, really=True) is True
    assert sdk.project.integrations.list() == []
