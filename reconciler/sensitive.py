"""What counts as a secret value, shared by the layers that declare, record and redact secrets
(config, interpolate, secret_paths, planfile, redact). No imports: `validate` loads it without the
live-document modules `secret_paths` needs."""

# The shortest value treated as a secret: a shorter one cannot be redacted (a token of `t` would
# blank every `t`), so it is refused where a secret is declared (config, interpolate) and never matched.
MIN_SECRET = 4
ENV_PREFIX = "env."  # `${env.NAME}` values are named `env.NAME` among the secrets (saved plans)
