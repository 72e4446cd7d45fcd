"""`${var.NAME}` / `${env.NAME}` in specs, loopform.yaml environments, and redaction helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitops_kit import SPEC as KIT_SPEC

from reconciler.config import Flags, resolve_settings
from reconciler.errors import ConfigError, Location, PlanError
from reconciler.interpolate import Context, Variable, interpolate
from reconciler.planfile import redact as redact_saved_plan
from reconciler.planfile import restore as restore_saved_plan
from reconciler.redact import Redactor
from reconciler.spec import load


def at(pointer: str) -> Location:
    return Location("spec.yaml", 1, 1, pointer)


CTX = Context(variables={"frames": Variable("frames", "frames-staging"), "t": Variable("t", 0.5),
                         "on": Variable("on", True),
                         "key": Variable("key", None, secret=True, missing="environment variable K is not set")},
              env={"USER_NAME": "ada-lovelace"}, environment="staging")


def test_whole_references_keep_their_type_embedded_ones_become_text() -> None:
    data = {"a": "${var.t}", "b": "t=${var.t} on=${var.on} by ${env.USER_NAME}", "c": ["${var.frames}"],
            "d": "$${var.t} stays", "${var.t}": "keys are never interpolated", "e": 3}
    result = interpolate(data, CTX, at)
    assert result.errors == []
    assert result.data == {"a": 0.5, "b": "t=0.5 on=true by ada-lovelace", "c": ["frames-staging"],
                           "d": "${var.t} stays", "${var.t}": "keys are never interpolated", "e": 3}
    assert result.digest and result.digest != interpolate({"a": "${var.frames}"}, CTX, at).digest
    assert interpolate({"a": "plain"}, CTX, at).digest == ""


def test_unset_and_malformed_references_are_located_errors() -> None:
    result = interpolate({"x": {"y": "${var.nope}"}, "z": ["${env.MISSING}", "${var.key}", "${secret.a}"]},
                         CTX, at)
    assert [(e.location.pointer, e.message) for e in result.errors] == [
        ("/x/y", "variable 'nope' is not defined in environment 'staging' (defined: frames, key, on, t); "
                 "add it under `variables:` in loopform.yaml"),
        ("/z/0", "environment variable MISSING is not set (used as ${env.MISSING})"),
        ("/z/1", "variable 'key' in environment 'staging' has no value: environment variable K is not set"),
        ("/z/2", "'${secret.a}' is not a reference: use ${var.NAME} or ${env.NAME} (write $${ for a literal ${)"),
    ]


def test_offline_references_are_checked_for_syntax_only() -> None:
    result = interpolate({"a": "${var.anything}", "b": "${nope}", "c": "$${x}"}, None, at)
    assert result.data == {"a": "${var.anything}", "b": "${nope}", "c": "${x}"}
    assert [e.location.pointer for e in result.errors] == ["/b"]


# The shared spec with its first dataset taken from the environment.
SPEC = KIT_SPEC.replace("dataset: raw-videos}", "dataset: \"${var.frames}\"}")


def test_load_reports_file_line_and_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("frames.yaml").write_text(SPEC.replace("${var.frames}", "${var.frame}"))
    result = load([Path("frames.yaml")], context=CTX)
    assert not result.ok
    (error,) = [e for e in result.errors if e.severity == "error"]
    assert str(error) == ("frames.yaml:6:29: variable 'frame' is not defined in environment 'staging' "
                          "(defined: frames, key, on, t); add it under `variables:` in loopform.yaml")


def test_the_digest_follows_the_values(tmp_path: Path) -> None:
    spec = tmp_path / "frames.yaml"
    spec.write_text(SPEC)
    a = load([spec], context=CTX).specs[0]
    b = load([spec], context=Context(variables={"frames": Variable("frames", "frames-prod")})).specs[0]
    assert a.spec.spec.nodes["videos"].dataset == "frames-staging"  # type: ignore[union-attr]
    assert a.digest != b.digest  # a saved plan made for one environment is stale in the other


PROJECT_FILE = """\
backend: local
project: fallback
variables: {threshold: 0.5, region: eu}
environments:
  staging:
    project: demo-staging
    variables: {frames: frames-staging, token: {env: STAGING_TOKEN, secret: true}}
  prod:
    url: https://gate.example.com/api/v1
    project: demo-prod
    variables: {frames: frames, threshold: 0.8}
"""


def settings(tmp_path: Path, flags: Flags, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    (tmp_path / "loopform.yaml").write_text(PROJECT_FILE)
    return resolve_settings(flags, env=env or {}, cwd=tmp_path, home=tmp_path)


def test_environments_select_project_backend_and_variables(tmp_path: Path) -> None:
    staging = settings(tmp_path, Flags(environment="staging"), {"STAGING_TOKEN": "tok-1234"})
    assert (staging.kind.value, staging.project, staging.environment) == ("local", "demo-staging", "staging")
    assert {n: (v.value, v.secret) for n, v in staging.variables.items()} == {
        "frames": ("frames-staging", False), "region": ("eu", False), "threshold": (0.5, False),
        "token": ("tok-1234", True)}
    prod = settings(tmp_path, Flags(environment="prod"), {"LOOPFORM_TOKEN": "t", "LOOPFORM_PROJECT": "env-project"})
    assert (prod.kind.value, prod.url, prod.project) == ("dataloop", "https://gate.example.com/api/v1", "demo-prod")
    assert prod.selected_by == "environment 'prod' in loopform.yaml" and prod.variables["threshold"].value == 0.8
    by_env_var = settings(tmp_path, Flags(), {"LOOPFORM_ENV": "staging"})
    assert by_env_var.environment == "staging" and by_env_var.variables["token"].value is None
    assert settings(tmp_path, Flags(environment="staging", project="mine")).project == "mine"  # flags win
    assert settings(tmp_path, Flags()).project == "fallback" and settings(tmp_path, Flags()).environment is None


def test_unknown_environment_and_bad_variables_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'qa' \(defined: prod, staging\)"):
        settings(tmp_path, Flags(environment="qa"))
    short = settings(tmp_path, Flags(environment="staging"), {"STAGING_TOKEN": "abc"}).variables["token"]
    assert short.value is None and short.missing == "a secret must be at least 4 characters long"
    (tmp_path / "loopform.yaml").write_text("variables: {a: {value: 1, env: A}}\n")
    with pytest.raises(ConfigError, match="give exactly one of `value:` or `env:`"):
        resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("variables: " + "[" * 3000 + "]" * 3000 + "\n", r"loopform\.yaml:1:\d+: nesting deeper than 64 levels"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef")),
     r"loopform\.yaml:\d+:\d+: aliases expand the document"),
    ("environments:\n  prod:\n    variables:\n      t: {value: 1, env: X}\n",
     r"loopform\.yaml:4:7: invalid project file: environments\.prod\.variables\.t: .*exactly one of"),
    ("# nothing but a comment\n", None),
])
def test_a_hostile_or_wrong_project_file_is_a_located_error(tmp_path: Path, text: str, message: str | None) -> None:
    (tmp_path / "loopform.yaml").write_text(text)
    if message is None:
        assert resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path).kind.value == "local"
        return
    with pytest.raises(ConfigError, match=message):  # not a RecursionError, nor memory blown up
        resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)


def test_redactor_covers_raw_json_and_repr_forms() -> None:
    secret = 'p"a\\ss ü'
    redact = Redactor([secret, ""])
    assert redact(f"x {secret} y") == "x (sensitive) y"
    assert redact(json.dumps({"v": secret})) == '{"v": "(sensitive)"}'
    assert redact(json.dumps({"v": secret}, ensure_ascii=False)) == '{"v": "(sensitive)"}'
    assert redact(f"got {secret!r}") == "got '(sensitive)'"
    assert Redactor(['a<b&"c"'])('<text>a&lt;b&amp;&quot;c&quot;</text>') == "<text>(sensitive)</text>"  # SVG
    assert Redactor(["my sec/ret"])("GET /projects/my%20sec%2Fret/name: not found") == \
        "GET /projects/(sensitive)/name: not found"
    assert not Redactor([]) and Redactor([])("text") == "text"
    assert Redactor(["abc"])("abc") == "abc"  # too short to tell apart from other text
    assert Redactor(["ab  "])("x ab   y") == "x (sensitive) y"  # as long as interpolate accepts
    assert Redactor(["key-1\n  \n}\nline-2"])("key-1 } line-2   ") == "(sensitive) } (sensitive)   "


def test_redactor_covers_a_secret_cut_short_by_a_renderer() -> None:
    redact = Redactor(["stg-7f3a9c1e-webhook", 'q"uo\\te-1234'])
    # values.short cuts long values with "...", the Markdown comment's limit adds "…"
    assert redact('"xx stg-7f3a9c1e-w..."') == '"xx (sensitive)..."'
    assert redact("table stg-7f3a\n\n_…truncated") == "table (sensitive)\n\n_…truncated"
    assert redact("a stg-7f3a9c1e-webhook b stg-7f…") == "a (sensitive) b (sensitive)…"
    assert redact(json.dumps('q"uo\\te-1234')[:8] + "...") == '"(sensitive)...'
    # a spec can place the value so that the cut leaves one to three characters: those too
    assert redact('"' + "x" * 116 + "st...") == '"' + "x" * 116 + "(sensitive)..."
    assert redact("stg... stg-7f3a9c1e") == "(sensitive)... stg-7f3a9c1e"
    # not a beginning of the secret, or no ellipsis: left alone
    assert redact("stg-7f3a9c1e-webhooX...") == "stg-7f3a9c1e-webhooX..."
    assert redact("Loading... stg-7f3a9c1") == "Loading... stg-7f3a9c1"


def test_saved_plan_round_trip() -> None:
    text = json.dumps({"value": "tok-1234", "other": "x-tok-1234-y"})
    saved = redact_saved_plan(text, {"token": "tok-1234"})
    assert "tok-1234" not in saved and "(sensitive:token)" in saved
    assert restore_saved_plan(saved, {"token": "tok-1234"}.get) == text
    with pytest.raises(PlanError, match="needs the secret variable 'token'"):
        restore_saved_plan(saved, dict[str, str]().get)


def test_env_values_read_are_secrets_named_env_dot_name() -> None:
    seen: list[str] = []
    context = Context(variables={"key": Variable("key", "key-1234", secret=True), "pub": Variable("pub", "p-1")},
                      env={"HOOK": "hook-5678", "UNUSED": "unused-value", "TINY": "q7"}, on_sensitive=seen.append)
    result = interpolate({"a": "${env.HOOK}", "b": "x ${env.HOOK}", "c": "${env.TINY}"}, context, at)
    assert result.data["a"] == "hook-5678" and seen == ["hook-5678"]  # told once, before any error is shown
    assert [e.location.pointer for e in result.errors] == ["/c"] and "q7" not in result.errors[0].message
    assert context.secrets() == {"key": "key-1234", "env.HOOK": "hook-5678"}  # only what the specs read
    saved = redact_saved_plan(json.dumps({"v": "hook-5678", "k": "key-1234"}), context.secrets())
    assert saved == '{"v": "(sensitive:env.HOOK)", "k": "(sensitive:key)"}'
    # apply FILE: a fresh context reads the environment again, and tells the redaction
    fresh = Context(variables=context.variables, env={"HOOK": "hook-5678"}, on_sensitive=seen.append)
    assert json.loads(restore_saved_plan(saved, fresh.secret)) == {"v": "hook-5678", "k": "key-1234"}
    assert seen == ["hook-5678", "hook-5678"] and fresh.secret("pub") is None
    with pytest.raises(PlanError, match=r"needs the environment variable HOOK \(the specs use \$\{env.HOOK\}\)"):
        restore_saved_plan(saved, Context(variables=context.variables).secret)


def test_export_escapes_text_that_looks_like_a_reference(tmp_path: Path) -> None:
    from reconciler.apply import apply_plan
    from reconciler.connection import open_embedded
    from reconciler.export import export_pipeline
    from reconciler.planner import make_plan

    spec = tmp_path / "frames.yaml"
    spec.write_text(SPEC.replace("metadata: {name: frames, project: local}",
                                 'metadata: {name: frames, project: local, description: "uses $${HOME}"}')
                    .replace("dataset: \"${var.frames}\"", "dataset: raw"))
    backend = open_embedded(tmp_path / "state.db")
    try:
        loaded = load([spec])
        assert loaded.ok, [str(e) for e in loaded.errors]
        assert apply_plan(make_plan(loaded.specs, backend, default_project="local"), backend).ok
        live = backend.find_pipeline(backend.project("local").id, "frames")
        assert live is not None and live.description == "uses ${HOME}"
        exported = export_pipeline(live, project="local", code_dir=None)
        assert "uses $${HOME}" in exported.text
        spec.write_text(exported.text)
        again = load([spec], context=CTX)
        assert again.ok and again.specs[0].spec.metadata.description == "uses ${HOME}"
        assert not make_plan(again.specs, backend, default_project="local").has_changes
    finally:
        backend.close()


def test_a_reference_spelled_with_a_yaml_escape_is_still_interpolated(tmp_path: Path) -> None:
    # Files without `${` skip interpolation; "\x24{" is `${` once YAML has read it.
    spec = tmp_path / "p.yaml"
    spec.write_text(KIT_SPEC.replace("dataset: frames", 'dataset: "\\x24{var.frames}"', 1))
    assert "${" not in spec.read_text()
    loaded = load([spec], context=CTX)
    assert loaded.ok, [str(e) for e in loaded.errors]
    assert "frames-staging" in loaded.specs[0].spec.model_dump_json()
