"""The recommendation form offers the partnership's active learning themes as checkboxes, records those ticked,
and shows a refusal with the ticks kept; through a real `reviewflow serve` process."""

from __future__ import annotations

import re

from tests.test_pages import Person, server

__all__ = ["server"]


def test_the_form_offers_the_active_themes_and_records_those_ticked(server: str) -> None:
    manager = Person(server)
    manager.sign_in("bm")
    page, hidden = manager.form("/cases/OTHER-1/recommend")
    offered = re.findall(r'name="themes" type="checkbox" value="([^"]+)"', page)
    assert offered[:3] == ["neglect", "information sharing", "domestic abuse"]
    assert "Mental health (parental)" in page
    done = manager.post("/cases/OTHER-1/recommend", {**hidden, "text": "Hear the child at every visit",
                                                     "themes": ["voice of the child", "think family"]})
    assert done.status_code == 303, done.text
    shown = manager.get("/cases/OTHER-1").text
    assert "voice of the child" in shown
    assert "think family" in shown


def test_a_theme_not_on_the_list_is_refused_with_the_nearest(server: str) -> None:
    manager = Person(server)
    manager.sign_in("bm")
    _, hidden = manager.form("/cases/OTHER-1/recommend")
    refused = manager.post("/cases/OTHER-1/recommend", {**hidden, "text": "x", "themes": ["neglet", "early help"]})
    assert refused.status_code == 422, refused.status_code
    assert "did you mean &#39;neglect&#39;?" in refused.text or "did you mean 'neglect'?" in refused.text
    assert re.search(r'value="early help" checked', refused.text)
