"""Extension points are registries: a new notification channel or report format plugs in without touching callers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from reviewflow.engine.core.notices import Outgoing
from reviewflow.engine.render import reports as report_formats
from reviewflow.engine.render.reports import ReportFormat, choose_format, register_format, render
from reviewflow.engine.services import channels
from reviewflow.engine.services.channels import CHANNELS, Message, register_channel
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings
from reviewflow.store import outbox


class _Pager:
    """A channel that keeps what it was given."""

    name = "pager"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def available(self, settings: Settings) -> bool:
        return True

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        self.sent.append(m)


@pytest.fixture
def pager() -> Iterator[_Pager]:
    found = _Pager()
    register_channel(found)
    yield found
    del CHANNELS["pager"]


def test_a_registered_channel_gets_its_rows_from_the_worker(service: Reviewflow, pager: _Pager) -> None:
    now = service.clock()
    with service.ctx.transaction() as s:
        outbox.add(s, [Outgoing("K-1", "escalation", "board", "pager", "lscp.board", "#board", {"ref": "M-1"})],
                   None, now)
    report = service.deliver()
    assert report.sent == 1
    assert [(m.key, m.channel, m.address) for m in pager.sent] == [("K-1", "pager", "#board")]
    assert [r.status for r in service.outbox()] == ["sent"]


def test_a_row_for_an_unknown_channel_is_retried_not_lost(service: Reviewflow) -> None:
    with pytest.raises(channels.DeliveryFailed, match="no channel named 'fax'"):
        channels.deliver(service.settings, Message("K", "fax", "x", None, "e", {}), service.clock())


def test_a_registered_report_format_is_chosen_by_name_and_suffix(service: Reviewflow) -> None:
    register_format(ReportFormat("txt", (".txt",), "text/plain", lambda _r, layout, _t: layout.title))
    try:
        assert "txt" in report_formats.formats()
        assert choose_format(None, Path("paper.txt")) == "txt"
        assert render(service.board_report(), "txt").startswith("Board report")
    finally:
        del report_formats._FORMATS["txt"]
    assert choose_format(None, Path("paper.txt")) == "md"
