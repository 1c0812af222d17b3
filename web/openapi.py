"""`python -m reviewflow.web.openapi`: print the API's OpenAPI document (kept in docs/openapi.json)."""

from __future__ import annotations

import json


def document() -> dict[str, object]:
    """The document `reviewflow serve` serves at /api/v1/openapi.json (it does not depend on the database)."""
    from reviewflow.engine.services.facade import Reviewflow
    from reviewflow.web.app import create_app

    return create_app(Reviewflow.connect("sqlite:///:memory:")).openapi()


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(document(), indent=2, ensure_ascii=False))
