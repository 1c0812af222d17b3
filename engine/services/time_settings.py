"""The database's time settings: how far a change may be dated (--now) from the server's own time.

Only an administrator changes them, and each change is sealed in the administration log. They live in the
database, never in the environment or a settings file, so whoever dates a change cannot widen them.
"""

from __future__ import annotations

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.time_limits import NAMES, NO_LIMITS, TimeLimits, check_name, format_limit, parse_limit
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import time_settings

log = structlog.get_logger("reviewflow")


class TimeSettingsService:
    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def show(self) -> TimeLimits:
        """The limits this database holds changes to."""
        with self.ctx.read() as s:
            return time_settings.limits(s)

    def set(self, by: Identity | None, name: str, value: str) -> TimeLimits:
        """Change one time setting (administrators only): '10m', '90d', 'off'..."""
        check_name(name)
        limit = parse_limit(name, value)
        who = self.accounts.require_admin(by, "changing the time settings")
        with self.ctx.transaction() as s:
            before = time_settings.limits(s)
            after = before.with_value(name, limit)
            time_settings.set_limits(s, after)
            self.accounts.audit(s, who, "settings.set", name, {
                "setting": name, "from": format_limit(before.get(name)), "to": format_limit(limit)})
        log.info("settings.changed", setting=name, actor=who.recorded)
        return after

    def switch_off(self, by: Identity | None) -> TimeLimits:
        """No limits at all: a training or demonstration database, whose changes are dated at will."""
        who = self.accounts.require_admin(by, "changing the time settings")
        with self.ctx.transaction() as s:
            before = time_settings.limits(s)
            time_settings.set_limits(s, NO_LIMITS)
            self.accounts.audit(s, who, "settings.set", "time limits", {
                name: {"from": format_limit(before.get(name)), "to": "off"} for name in NAMES})
        return NO_LIMITS
