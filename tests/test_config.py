"""Delivery settings: a TOML file, REVIEWFLOW_* environment overrides, clear refusals, the backoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.services.settings import Settings, SmtpSettings, load_settings

FULL = """
[smtp]
host = "mail.lscp.example.org"
port = 587
starttls = true
username = "reviewflow"
password_env = "LSCP_SMTP_PASSWORD"
sender = "reviews@lscp.example.org"

[webhooks]
urls = ["https://chat.example.org/hooks/1", "https://ops.example.org/in"]

[links]
template = "https://reviews.example.org/cases/{ref}"

[delivery]
max_attempts = 5
backoff_seconds = 30
backoff_cap_seconds = 3600
lease_seconds = 120

[worker]
interval_seconds = 15
batch_size = 50
"""


@pytest.fixture(autouse=True)
def _no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in an empty folder: load_settings(None, ...) looks for ./reviewflow.toml."""
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, text: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert (settings.smtp, settings.webhooks, settings.max_attempts, settings.backoff_seconds,
            settings.backoff_cap_seconds, settings.lease_seconds, settings.interval_seconds,
            settings.batch_size) == (None, (), 8, 60.0, 21600.0, 300.0, 60.0, 200)


def test_everything_from_a_toml_file(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, FULL), {"LSCP_SMTP_PASSWORD": "s3cret"})
    assert settings == Settings(
        smtp=SmtpSettings(host="mail.lscp.example.org", port=587, starttls=True, ssl=False, username="reviewflow",
                          password="s3cret", sender="reviews@lscp.example.org"),
        webhooks=("https://chat.example.org/hooks/1", "https://ops.example.org/in"),
        link_template="https://reviews.example.org/cases/{ref}",
        max_attempts=5, backoff_seconds=30.0, backoff_cap_seconds=3600.0, lease_seconds=120.0,
        interval_seconds=15.0, batch_size=50,
    )
    assert settings.link("SCR-2026-001") == "https://reviews.example.org/cases/SCR-2026-001"


def test_reviewflow_toml_in_the_current_folder_is_read_by_default(tmp_path: Path) -> None:
    _write(tmp_path, '[smtp]\nhost = "localhost"\n[worker]\nbatch_size = 7\n', "reviewflow.toml")
    settings = load_settings(None, {})
    assert (settings.smtp, settings.batch_size) == (SmtpSettings(host="localhost"), 7)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "REVIEWFLOW_SMTP_HOST": "127.0.0.1",
        "REVIEWFLOW_SMTP_PORT": "2525",
        "REVIEWFLOW_SMTP_STARTTLS": "on",
        "REVIEWFLOW_SMTP_USER": "worker",
        "REVIEWFLOW_SMTP_PASSWORD": "from-env",
        "REVIEWFLOW_SMTP_FROM": "noreply@example.org",
        "REVIEWFLOW_WEBHOOK_URLS": " http://127.0.0.1:8080/a ,http://127.0.0.1:8080/b,, ",
        "REVIEWFLOW_INTERVAL": "2.5",
        "REVIEWFLOW_BATCH_SIZE": "10",
        "LSCP_SMTP_PASSWORD": "from-password-env",
    }
    settings = load_settings(_write(tmp_path, FULL), env)
    assert settings.smtp == SmtpSettings(host="127.0.0.1", port=2525, starttls=True, ssl=False, username="worker",
                                         password="from-env", sender="noreply@example.org")
    assert settings.webhooks == ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b")
    assert (settings.interval_seconds, settings.batch_size) == (2.5, 10)
    # what the environment does not name still comes from the file
    assert (settings.max_attempts, settings.lease_seconds, settings.link_template) == (
        5, 120.0, "https://reviews.example.org/cases/{ref}")


def test_environment_alone_configures_smtp() -> None:
    settings = load_settings(None, {"REVIEWFLOW_SMTP_HOST": "mail.example.org", "REVIEWFLOW_SMTP_STARTTLS": "yes"})
    assert settings.smtp == SmtpSettings(host="mail.example.org", port=25, starttls=True)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), (" on ", True), ("no", False),
                                                 ("0", False), ("False", False)])
def test_starttls_words(value: str, expected: bool) -> None:
    env = {"REVIEWFLOW_SMTP_HOST": "h", "REVIEWFLOW_SMTP_STARTTLS": value}
    settings = load_settings(None, env)
    assert settings.smtp is not None
    assert settings.smtp.starttls is expected


def test_password_env_reads_the_named_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nhost = "h"\nstarttls = true\nusername = "u"\npassword_env = "MY_SMTP_SECRET"\n')
    smtp = load_settings(path, {"MY_SMTP_SECRET": "hunter2"}).smtp
    assert smtp is not None
    assert (smtp.username, smtp.password) == ("u", "hunter2")
    smtp = load_settings(path, {"MY_SMTP_SECRET": "hunter2", "REVIEWFLOW_SMTP_PASSWORD": "wins"}).smtp
    assert smtp is not None
    assert smtp.password == "wins"


def test_an_empty_webhook_list_in_the_environment_keeps_the_file_list(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, FULL), {"REVIEWFLOW_WEBHOOK_URLS": ""})
    assert settings.webhooks == ("https://chat.example.org/hooks/1", "https://ops.example.org/in")


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        pytest.param({"REVIEWFLOW_SMTP_STARTTLS": "maybe"}, "", "REVIEWFLOW_SMTP_STARTTLS='maybe': write true or false",
                     id="starttls-word"),
        pytest.param({"REVIEWFLOW_SMTP_PORT": "smtp"}, "", "smtp port='smtp': expected a number", id="port-word"),
        pytest.param({"REVIEWFLOW_SMTP_PORT": "-25"}, "", "smtp port='-25': must be more than 0", id="port-negative"),
        pytest.param({"REVIEWFLOW_INTERVAL": "soon"}, "", "interval_seconds='soon': expected a number",
                     id="interval-word"),
        pytest.param({"REVIEWFLOW_INTERVAL": "0"}, "", "interval_seconds='0': must be more than 0", id="interval-0"),
        pytest.param({"REVIEWFLOW_BATCH_SIZE": "1.5"}, "", "batch_size='1.5': expected a number",
                     id="batch-fraction"),
        pytest.param({"REVIEWFLOW_BATCH_SIZE": "0"}, "", "batch_size='0': must be more than 0", id="batch-0"),
        pytest.param({}, "[delivery]\nmax_attempts = -1\n", "max_attempts=-1: must be more than 0",
                     id="max-attempts"),
        pytest.param({}, '[delivery]\nbackoff_seconds = "a minute"\n',
                     "backoff_seconds='a minute': expected a number", id="backoff-word"),
        pytest.param({}, '[smtp]\nhost = "h"\nport = 0\n', "smtp port=0: must be more than 0", id="toml-port-0"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(tmp_path: Path, env: dict[str, str], toml: str,
                                                       message: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        load_settings(_write(tmp_path, toml), {"REVIEWFLOW_SMTP_HOST": "h", **env})
    assert str(caught.value) == message


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nhost = "mail.example.org\n')
    with pytest.raises(InvalidValue) as caught:
        load_settings(path, {})
    text = str(caught.value)
    assert text.startswith(f"{path}: not valid TOML (")
    assert "line 2" in text
    assert text.endswith("): fix the file")


def test_a_missing_settings_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(InvalidValue) as caught:
        load_settings(path, {})
    assert str(caught.value) == f"cannot read the settings file {path}: No such file or directory"


def test_a_quoted_starttls_in_the_file_is_not_taken_as_true(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, '[smtp]\nhost = "h"\nstarttls = "no"\n'), {})
    assert settings.smtp is not None
    assert settings.smtp.starttls is False
    with pytest.raises(InvalidValue, match="smtp starttls='maybe': write true or false"):
        load_settings(_write(tmp_path, '[smtp]\nhost = "h"\nstarttls = "maybe"\n'), {})


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nhots = "h"\n')
    with pytest.raises(InvalidValue,
                       match=r"unknown key\(s\) hots in \[smtp\]; known keys: allow_plain_login, ca_file, host, "):
        load_settings(path, {})
    with pytest.raises(InvalidValue, match=r"unknown section \[mail\]; known sections: smtp, webhooks"):
        load_settings(_write(tmp_path, '[mail]\nhost = "h"\n'), {})
    with pytest.raises(InvalidValue, match="webhook URL 'chat.example.org' must start with http:// or https://"):
        load_settings(_write(tmp_path, '[webhooks]\nurls = ["chat.example.org"]\n'), {})


def test_a_single_webhook_url_string_in_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[webhooks]\nurls = "https://chat.example.org/hooks/1"\n')
    assert load_settings(path, {}).webhooks == ("https://chat.example.org/hooks/1",)


@pytest.mark.parametrize(("env", "toml"), [
    pytest.param({"REVIEWFLOW_INTERVAL": "nan"}, "", id="interval-nan"),
    pytest.param({}, "[delivery]\nlease_seconds = nan\n", id="lease-nan"),
    pytest.param({}, "[delivery]\nbackoff_seconds = inf\n", id="backoff-inf"),
])
def test_non_finite_numbers_are_refused(tmp_path: Path, env: dict[str, str], toml: str) -> None:
    with pytest.raises(InvalidValue):
        load_settings(_write(tmp_path, toml), env)


def test_backoff_doubles_and_is_capped() -> None:
    settings = Settings(backoff_seconds=60, backoff_cap_seconds=600)
    assert [settings.backoff(n) for n in range(1, 7)] == [60.0, 120.0, 240.0, 480.0, 600.0, 600.0]
    assert settings.backoff(0) == 60.0
    assert Settings().backoff(1) == 60.0
    assert Settings().backoff(20) == 6 * 3600.0


def test_backoff_stays_capped_for_any_number_of_attempts() -> None:
    assert Settings(max_attempts=5000).backoff(2000) == 6 * 3600.0
