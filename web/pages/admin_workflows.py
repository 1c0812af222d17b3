"""Loading workflow definitions from the browser (`/admin/workflows`), in three steps: upload a YAML file, see every
problem located by line and key (then nothing is loaded) or what would change against the loaded version, then
confirm to load it. The same checks as `reviewflow workflow validate` and `workflow load`; administrators only.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidDefinition, Problem
from reviewflow.engine.services.definitions import WorkflowPreview
from reviewflow.web.pages.admin_view import diff_groups, problem_rows
from reviewflow.web.pages.common import ErrorList, check_csrf, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)

Who = Annotated[Identity, Depends(signed_in)]
Text = Annotated[str, Form()]

MAX_DEFINITION_BYTES = 1024 * 1024
"""A definition file is a few kilobytes; anything over a megabyte is not one."""
FILE_FIELD = "definition"


def _workflows_page(request: Request, who: Identity, status: int = 200, errors: ErrorList | None = None,
                    loaded: dict[str, str] | None = None) -> Response:
    rf = reviewflow(request)
    rf.check_admin(who, "loading workflows")
    return page(request, "admin/workflows.html", status=status, errors=errors or [], workflows=rf.workflows(),
                loaded=loaded, section="workflows")


@router.get("/admin/workflows")
def workflows_page(request: Request, who: Who, loaded: str | None = None, version: str | None = None,
                   status: str | None = None) -> Response:
    """The loaded workflows and the upload form (after a load, what it did)."""
    done = None
    known = reviewflow(request).all_definitions()
    if loaded and version and version.isdigit() and (loaded, int(version)) in known:  # only what is loaded
        done = {"name": loaded, "version": version, "status": "added" if status == "added" else "unchanged"}
    return _workflows_page(request, who, loaded=done)


def _read_upload(upload: UploadFile | None) -> tuple[str, str] | str:
    """(text, file name) of the uploaded definition, or why it cannot be read."""
    if upload is None or not upload.filename:
        return "Choose a workflow definition file (YAML) to check"
    content = upload.file.read(MAX_DEFINITION_BYTES + 1)
    if not content:
        return f"{upload.filename} is empty: choose a workflow definition file"
    if len(content) > MAX_DEFINITION_BYTES:
        return f"{upload.filename} is over {MAX_DEFINITION_BYTES // 1024} KB: a workflow definition is far smaller"
    try:
        return content.decode("utf-8-sig"), _file_name(upload.filename)
    except UnicodeDecodeError:
        return f"{upload.filename} is not text in UTF-8: save it as UTF-8 and upload it again"


def _file_name(name: str) -> str:
    """The uploaded file's own name, without any folder the browser sent."""
    return name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload.yaml"


def _check_page(request: Request, preview: WorkflowPreview, text: str) -> Response:
    problems = problem_rows(preview.problems, text)
    errors: ErrorList = []
    if problems:
        errors = [{"field": FILE_FIELD, "text": f"{preview.source} has {len(problems)} problem"
                   f"{'' if len(problems) == 1 else 's'}: nothing was loaded. Fix them and upload it again"}]
    return page(request, "admin/workflow_check.html", status=422 if problems else 200, errors=errors,
                preview=preview, problems=problems, groups=diff_groups(preview.diff) if preview.diff else [],
                encoded=base64.b64encode(text.encode("utf-8")).decode("ascii"), section="workflows")


@router.post("/admin/workflows/check")
def check_workflow(request: Request, who: Who, csrf_token: Text = "",
                   definition: Annotated[UploadFile | None, File()] = None) -> Response:
    """Check an uploaded definition: every located problem, or what loading it would change. Loads nothing."""
    check_csrf(request, {"csrf_token": csrf_token})
    read = _read_upload(definition)
    if isinstance(read, str):
        return _workflows_page(request, who, 422, [{"field": FILE_FIELD, "text": read}])
    text, name = read
    return _check_page(request, reviewflow(request).preview_workflow_text(text, name, who), text)


@router.post("/admin/workflows/load")
def load_workflow(request: Request, who: Who, csrf_token: Text = "", source: Text = "",
                  content: Text = "") -> Response:
    """Load the definition checked on the page before (checked again as it is loaded)."""
    check_csrf(request, {"csrf_token": csrf_token})
    try:
        text = base64.b64decode(content.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return _workflows_page(request, who, 422, [{"field": FILE_FIELD, "text": "The checked definition did not "
                                                    "come back whole: upload the file again"}])
    name = _file_name(source)
    rf = reviewflow(request)
    try:
        result = rf.load_workflow_text(text, name, who)
    except InvalidDefinition as exc:
        return _check_page(request, WorkflowPreview(name, tuple(exc.problems or [Problem(name, "", exc.message)])),
                           text)
    return redirect(f"/admin/workflows?loaded={quote(result.name, safe='')}&version={result.version}"
                    f"&status={result.status}")
