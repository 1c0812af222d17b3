"""`/api/v1/themes`: the partnership's learning themes; anyone signed in may list them, administrators add,
relabel and retire them (the services refuse anyone else, as the command line does)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.limits import THEME
from reviewflow.engine.core.themes import DESCRIPTION_LIMIT, LABEL_LIMIT, Theme
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/themes", tags=["learning themes"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


class ThemeOut(BaseModel):
    """A learning theme: recommendations carry its key; a retired one stays on them and is refused for new ones."""

    key: str = Field(examples=["voice of the child"])
    label: str = Field(examples=["Voice of the child"])
    description: str = ""
    active: bool
    retired_at: datetime | None = None


class NewTheme(BaseModel):
    key: str = Field(min_length=1, max_length=THEME, examples=["county lines"])
    label: str = Field(min_length=1, max_length=LABEL_LIMIT, examples=["County lines"])
    description: str | None = Field(None, max_length=DESCRIPTION_LIMIT)


class ThemeChange(BaseModel):
    label: str = Field(min_length=1, max_length=LABEL_LIMIT)
    description: str | None = Field(None, max_length=DESCRIPTION_LIMIT)


def _out(t: Theme) -> ThemeOut:
    return ThemeOut(key=t.key, label=t.label, description=t.description, active=t.active, retired_at=t.retired_at)


@router.get("", response_model=list[ThemeOut], summary="The learning themes")
def list_themes(rf: Service, who: Who,
                active: bool = Query(False, description="Only the active themes (leave out retired ones).")) \
        -> list[ThemeOut]:
    return [_out(t) for t in rf.themes(by=who, include_retired=not active)]


@router.post("", response_model=ThemeOut, status_code=201, summary="Add a learning theme (administrators)")
def add_theme(body: NewTheme, rf: Service, who: Who) -> ThemeOut:
    return _out(rf.theme_add(body.key, body.label, body.description, by=who))


@router.post("/{key:path}/label", response_model=ThemeOut, summary="Change a theme's label (administrators)")
def rename_theme(key: str, body: ThemeChange, rf: Service, who: Who) -> ThemeOut:
    return _out(rf.theme_rename(key, body.label, body.description, by=who))


@router.post("/{key:path}/retire", response_model=ThemeOut, summary="Retire a theme (administrators)")
def retire_theme(key: str, rf: Service, who: Who) -> ThemeOut:
    return _out(rf.theme_retire(key, by=who))
