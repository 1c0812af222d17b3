"""Delivery and worker settings from an optional TOML file, overridden by environment variables."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reviewflow.engine.core.errors import InvalidValue

DEFAULT_CONFIG = "reviewflow.toml"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "reviewflow@localhost"
    timeout: float = 15.0
    ca_file: str | None = None
    """A private certificate authority's certificate (PEM) to check the server's certificate against, instead of
    the system's; with `ssl` or `starttls` the certificate and the host name are always checked."""
    allow_plain_login: bool = False
    """Allow a username and password to be sent without TLS (refused at loading otherwise)."""


@dataclass(frozen=True)
class WebhookSettings:
    """How the worker posts notifications (`[webhooks]` in reviewflow.toml; the targets, `urls`, are
    `Settings.webhooks`), read by the worker when it delivers: never by the command that made the change."""

    secret: str | None = field(default=None, repr=False)
    """The key of the `Reviewflow-Signature` HMAC-SHA256 header (docs/security.md)."""
    timeout_seconds: float = 5.0
    """How long one request may take."""
    budget_seconds: float = 60.0
    """How long one delivery round spends on webhooks; what is left waits for the next round."""
    concurrency: int = 4
    """How many webhook requests are made at once (in their own threads, beside the e-mails)."""


@dataclass(frozen=True)
class SecuritySettings:
    """Sign-in and session rules (`[security]` in reviewflow.toml)."""

    password_min_length: int = 12
    session_idle_minutes: float = 30.0
    session_hours: float = 12.0
    """Absolute lifetime of a session, however active."""
    failures_per_account: int = 5
    failures_per_address: int = 20
    lock_minutes: float = 15.0
    """A run of failures within this many minutes locks sign-in for this long after the last one."""
    token_days: int = 90
    token_max_days: int = 366
    setup_code_hours: float = 72.0


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with an OpenID Connect provider (`[oidc]` in reviewflow.toml)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    label: str = "Sign in with your organisation's account"
    match: str = "email"
    """How the provider's answer finds a registered user: by its verified `email`, or by `subject`."""
    scopes: str = "openid email profile"


@dataclass(frozen=True)
class WebSettings:
    """`reviewflow serve` (`[web]` in reviewflow.toml)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    base_url: str | None = None
    """The address people reach reviewflow at, e.g. https://reviewflow.example-lscp.org.uk: links in e-mails and
    calendar feeds open its pages (`/cases/REF`)."""
    behind_proxy: bool = False
    """True when a reverse proxy in front terminates TLS (then a public address may be bound)."""
    tls_cert: str | None = None
    tls_key: str | None = None
    partnership: str = "Safeguarding Children Partnership"
    """The partnership's name, shown on every page."""
    logo: str | None = None
    evidence_dir: str | None = None
    """The folder evidence files are kept in (default: `evidence-files` beside a SQLite database; required with
    PostgreSQL)."""
    max_upload_mb: float = 20.0
    """The largest evidence file accepted, in megabytes."""


@dataclass(frozen=True)
class AuditSettings:
    """The audit chain (`[audit]` in reviewflow.toml)."""

    key_file: str | None = None
    """The file holding the key the audit chain is sealed with (REVIEWFLOW_AUDIT_KEY_FILE overrides it); kept
    outside the database. Default for SQLite: `<database file>.audit-key`; PostgreSQL needs one."""


@dataclass(frozen=True)
class Settings:
    """Everything the worker and the notification channels need besides the database."""

    smtp: SmtpSettings | None = None
    webhooks: tuple[str, ...] = field(default=(), repr=False)
    """The webhook targets (`[webhooks] urls`): credentials for chat tools, so never shown whole."""
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    """How webhooks are signed, timed and run (their targets are `webhooks`)."""
    link_template: str | None = None
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    backoff_cap_seconds: float = 6 * 3600.0
    lease_seconds: float = 300.0
    interval_seconds: float = 60.0
    batch_size: int = 200
    security: SecuritySettings = field(default_factory=SecuritySettings)
    web: WebSettings = field(default_factory=WebSettings)
    oidc: OidcSettings | None = None
    audit: AuditSettings = field(default_factory=AuditSettings)
    digest_time: str = "08:00"
    """When the worker sends the daily digests (HH:MM in `digest_timezone`)."""
    digest_timezone: str = "Europe/London"
    extra: dict[str, Any] = field(default_factory=dict)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: doubling, capped."""
        return float(min(self.backoff_seconds * 2 ** min(max(attempts - 1, 0), 60), self.backoff_cap_seconds))

    def link(self, ref: str, anchor: str | None = None) -> str | None:
        """The address of case `ref`'s page (at `anchor` on it, e.g. `action-A1`): from `[links] template` when
        set, else `[web] base_url` + `/cases/REF`; None when neither is set."""
        from urllib.parse import quote

        if self.link_template:
            return self.link_template.replace("{ref}", quote(ref, safe=""))
        if self.web.base_url:
            return f"{self.web.base_url.rstrip('/')}/cases/{quote(ref, safe='')}" + (f"#{anchor}" if anchor else "")
        return None

    def page(self, path: str) -> str | None:
        """The full address of one of the web app's pages (`path` starting with /), when `[web] base_url` is set."""
        return f"{self.web.base_url.rstrip('/')}{path}" if self.web.base_url else None


_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _bool(name: str, value: str) -> bool:
    try:
        return _BOOL[value.strip().lower()]
    except KeyError:
        raise InvalidValue(f"{name}={value!r}: write true or false") from None


def _flag(name: str, value: Any) -> bool:
    return value if isinstance(value, bool) else _bool(name, str(value))


def _webhooks(urls: Any) -> tuple[str, ...]:
    items = [urls] if isinstance(urls, str) else list(urls or ())
    for url in items:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidValue(f"webhook URL {url!r} must start with http:// or https://")
    return tuple(items)


_KNOWN = {
    "smtp": {"host", "port", "starttls", "ssl", "username", "password", "password_env", "sender", "ca_file",
             "allow_plain_login", "timeout_seconds"},
    "webhooks": {"urls", "secret", "secret_env", "timeout_seconds", "budget_seconds", "concurrency"},
    "links": {"template"},
    "delivery": {"max_attempts", "backoff_seconds", "backoff_cap_seconds", "lease_seconds", "digest_time",
                 "digest_timezone"},
    "worker": {"interval_seconds", "batch_size"},
    "security": {f.name for f in fields(SecuritySettings)},
    "web": {f.name for f in fields(WebSettings)},
    "oidc": {f.name for f in fields(OidcSettings)} | {"client_secret_env"},
    "audit": {"key_file"},
    "database": {"url"},
}


def _check_keys(path: Path, data: Mapping[str, Any]) -> None:
    for section, table in data.items():
        if section not in _KNOWN or not isinstance(table, dict):
            raise InvalidValue(f"{path}: unknown section [{section}]; known sections: {', '.join(_KNOWN)}")
        unknown = sorted(set(table) - _KNOWN[section])
        if unknown:
            raise InvalidValue(f"{path}: unknown key(s) {', '.join(unknown)} in [{section}]; "
                               f"known keys: {', '.join(sorted(_KNOWN[section]))}")


def _number(name: str, value: Any, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name}={value!r}: expected a number") from None
    if not math.isfinite(number):
        raise InvalidValue(f"{name}={value!r}: expected a finite number")
    if number <= 0:
        raise InvalidValue(f"{name}={value!r}: must be more than 0")
    return number


def _from_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InvalidValue(f"cannot read the settings file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"{path}: not valid TOML ({exc}): fix the file") from None


def _smtp(table: Mapping[str, Any], env: Mapping[str, str]) -> SmtpSettings | None:
    host = env.get("REVIEWFLOW_SMTP_HOST") or table.get("host")
    if not host:
        return None
    password = env.get("REVIEWFLOW_SMTP_PASSWORD") or table.get("password")
    if not password and table.get("password_env"):
        password = env.get(str(table["password_env"]))
    ca_file = env.get("REVIEWFLOW_SMTP_CA_FILE") or table.get("ca_file")
    if ca_file and not Path(str(ca_file)).is_file():
        raise InvalidValue(f"smtp ca_file {str(ca_file)!r} is not a file: give the path of the certificate "
                           "authority's certificate (PEM)", field="ca_file", value=str(ca_file))
    smtp = SmtpSettings(
        host=str(host),
        port=_number("smtp port", env.get("REVIEWFLOW_SMTP_PORT") or table.get("port", 25), int),
        starttls=_bool("REVIEWFLOW_SMTP_STARTTLS", env["REVIEWFLOW_SMTP_STARTTLS"])
        if "REVIEWFLOW_SMTP_STARTTLS" in env else _flag("smtp starttls", table.get("starttls", False)),
        ssl=_flag("smtp ssl", table.get("ssl", False)),
        username=env.get("REVIEWFLOW_SMTP_USER") or table.get("username"),
        password=password,
        sender=env.get("REVIEWFLOW_SMTP_FROM") or table.get("sender", "reviewflow@localhost"),
        timeout=_number("smtp timeout_seconds", table.get("timeout_seconds", 15.0), float),
        ca_file=str(ca_file) if ca_file else None,
        allow_plain_login=_flag("smtp allow_plain_login", table.get("allow_plain_login", False)),
    )
    if smtp.username and not (smtp.ssl or smtp.starttls) and not smtp.allow_plain_login:
        raise InvalidValue(f"[smtp] username {smtp.username!r} would sign in to {smtp.host} without TLS, sending "
                           "the password in clear: set ssl = true or starttls = true (or allow_plain_login = true "
                           "for a server on this machine)", field="username", value=smtp.username)
    return smtp


def _webhook(table: Mapping[str, Any], env: Mapping[str, str]) -> WebhookSettings:
    """How webhooks are signed and timed: the secret from REVIEWFLOW_WEBHOOK_SECRET, `secret` or the variable
    named by `secret_env`."""
    secret = env.get("REVIEWFLOW_WEBHOOK_SECRET") or table.get("secret")
    if not secret and table.get("secret_env"):
        secret = env.get(str(table["secret_env"]))
    numbers = {name: _number(f"webhooks {name}", table[name], kind) for name, kind in (
        ("timeout_seconds", float), ("budget_seconds", float), ("concurrency", int)) if name in table}
    return WebhookSettings(secret=str(secret) if secret else None, **numbers)


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Settings from `path` (or the first settings file found: engine/services/locations.py) with REVIEWFLOW_*
    overrides."""
    if path is None:
        from reviewflow.engine.services.locations import find_config

        found = find_config(None, Path.cwd(), env).value
        path = Path(found) if found else None
    data = _from_file(path) if path else {}
    if path:
        _check_keys(path, data)
    delivery, worker = data.get("delivery", {}), data.get("worker", {})
    urls = env.get("REVIEWFLOW_WEBHOOK_URLS")
    webhooks = _webhooks([u.strip() for u in urls.split(",") if u.strip()] if urls else
                         data.get("webhooks", {}).get("urls", ()))
    settings = Settings(smtp=_smtp(data.get("smtp", {}), env), webhooks=webhooks,
                        webhook=_webhook(data.get("webhooks", {}), env),
                        link_template=env.get("REVIEWFLOW_LINK_TEMPLATE") or data.get("links", {}).get("template"))
    numbers = {
        "max_attempts": (delivery.get("max_attempts"), int),
        "backoff_seconds": (delivery.get("backoff_seconds"), float),
        "backoff_cap_seconds": (delivery.get("backoff_cap_seconds"), float),
        "lease_seconds": (delivery.get("lease_seconds"), float),
        "interval_seconds": (env.get("REVIEWFLOW_INTERVAL") or worker.get("interval_seconds"), float),
        "batch_size": (env.get("REVIEWFLOW_BATCH_SIZE") or worker.get("batch_size"), int),
    }
    given = {k: _number(k, v, kind) for k, (v, kind) in numbers.items() if v is not None}
    digest_time, digest_zone = _digest(delivery, env)
    return replace(settings, **given, security=_section(SecuritySettings, "security", data.get("security", {})),
                   web=_web(data.get("web", {}), env), oidc=_oidc(data.get("oidc", {}), env),
                   digest_time=digest_time, digest_timezone=digest_zone,
                   audit=AuditSettings(env.get("REVIEWFLOW_AUDIT_KEY_FILE") or data.get("audit", {}).get("key_file")))


def _digest(delivery: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, str]:
    """When the daily digests go: `[delivery] digest_time` (HH:MM) in `digest_timezone`."""
    import re
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    at = str(env.get("REVIEWFLOW_DIGEST_TIME") or delivery.get("digest_time", "08:00")).strip()
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", at)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise InvalidValue(f"digest_time {at!r}: write the time of day as HH:MM, e.g. 08:00", field="digest_time",
                           value=at)
    zone = str(delivery.get("digest_timezone", "Europe/London")).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"digest_timezone {zone!r} is not a time zone: write one such as Europe/London",
                           field="digest_timezone", value=zone) from None
    return f"{int(found.group(1)):02d}:{found.group(2)}", zone


def _section(kind: Any, name: str, table: Mapping[str, Any]) -> Any:
    """A settings section from its TOML table: numbers checked, flags read as booleans, the rest as text."""
    values: dict[str, Any] = {}
    for f in fields(kind):
        if f.name not in table:
            continue
        value, default = table[f.name], f.default
        if isinstance(default, bool):
            values[f.name] = _flag(f"{name} {f.name}", value)
        elif isinstance(default, int | float):
            values[f.name] = _number(f"{name} {f.name}", value, type(default))
        else:
            values[f.name] = str(value)
    return kind(**values)


def _web(table: Mapping[str, Any], env: Mapping[str, str]) -> WebSettings:
    web = _section(WebSettings, "web", table)
    if env.get("REVIEWFLOW_BASE_URL"):
        web = replace(web, base_url=env["REVIEWFLOW_BASE_URL"])
    if env.get("REVIEWFLOW_EVIDENCE_DIR"):
        web = replace(web, evidence_dir=env["REVIEWFLOW_EVIDENCE_DIR"])
    if web.base_url and not web.base_url.startswith(("http://", "https://")):
        raise InvalidValue(f"web base_url {web.base_url!r} must start with https:// (or http:// for a test)",
                           field="base_url", value=web.base_url)
    return web


def _oidc(table: Mapping[str, Any], env: Mapping[str, str]) -> OidcSettings | None:
    if not table:
        return None
    for key in ("issuer", "client_id"):
        if not table.get(key):
            raise InvalidValue(f"[oidc] needs `{key}`: see docs/security.md#single-sign-on", field=key)
    secret = env.get("REVIEWFLOW_OIDC_CLIENT_SECRET") or table.get("client_secret")
    if not secret and table.get("client_secret_env"):
        secret = env.get(str(table["client_secret_env"]))
    found = _section(OidcSettings, "oidc", {k: v for k, v in table.items() if k != "client_secret_env"})
    if found.match not in ("email", "subject"):
        raise InvalidValue(f"[oidc] match = {found.match!r}: write \"email\" or \"subject\"", field="match",
                           value=found.match, allowed=("email", "subject"))
    return replace(found, client_secret=secret)
