"""`/api/v1/cases/{ref}/.../files`: files attached to evidence, uploaded and downloaded as the person asking may.

An upload is a change to the case like any other: it carries the case's ETag as `If-Match` (and, with a
session cookie, the CSRF token). A download is sent as an attachment in the type found from its content,
never to be shown in the page, and is recorded in the case's sealed history.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue, UsageError
from reviewflow.engine.core.filetypes import ALLOWED
from reviewflow.engine.core.records import EvidenceFile
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.api.cases import IfMatch, etag, revision_of
from reviewflow.web.api.schemas import public, shown
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/cases", tags=["evidence files"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]
_MULTIPART_SLACK = 64 * 1024
"""What a multipart body may hold besides the file (boundaries, headers, the file name)."""


EvidenceFileOut = public(EvidenceFile, "EvidenceFileOut", exclude=frozenset({"case_id", "evidence_id"}),
                         doc="A file attached to evidence (its content is at `href`).", href=(str, ...))


def file_out(f: EvidenceFile) -> Any:
    return shown(EvidenceFileOut, f, href=f"/api/v1/cases/{quote(f.ref, safe='')}/files/{f.id}")


def content_disposition(name: str) -> str:
    """`attachment` with the name as plain ASCII and, for any other characters, as RFC 5987 UTF-8."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


_UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "PDF, Word (.docx, .doc), Excel (.xlsx, .xls) or an image (PNG, JPEG, GIF, "
                                           "WebP), up to [web] max_upload_mb; the type is read from the content."}}}}}}}
_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "The file, as an attachment, in the type found from its content.",
    "content": {t.media_type: {"schema": {"type": "string", "format": "binary"}} for t in ALLOWED},
    "headers": {"Content-Disposition": {"schema": {"type": "string"}},
                "X-Content-Type-Options": {"schema": {"type": "string", "enum": ["nosniff"]}}}}}


async def _upload(request: Request, limit: float) -> tuple[str, bytes]:
    """The one file of a multipart body, read no further than `limit` bytes past what is allowed."""
    declared = request.headers.get("content-length", "")
    too_large = InvalidValue(f"the file is larger than the largest accepted, {limit / 1024 / 1024:g} MB",
                             field="file")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise too_large
    form = await request.form(max_files=1, max_fields=4)  # a malformed body is refused (400) by the parser
    given = form.get("file")
    if not isinstance(given, UploadFile):
        raise UsageError("send the file as multipart/form-data in a field named file", field="file")
    content = await given.read(int(limit) + 1)
    if len(content) > limit:
        raise too_large
    return given.filename or "", content


@router.post("/{ref}/evidence/{evidence}/files", response_model=EvidenceFileOut, status_code=201,
             summary="Attach a file to evidence", openapi_extra=_UPLOAD_BODY)
async def attach_file(request: Request, ref: Annotated[str, Path(max_length=64)],
                      evidence: Annotated[str, Path(max_length=16)], rf: Service, who: Who, response: Response,
                      if_match: IfMatch = None) -> Any:
    revision = revision_of(if_match)
    name, content = await _upload(request, rf.settings.web.max_upload_mb * 1024 * 1024)
    attached = await run_in_threadpool(rf.attach_evidence_file, ref, evidence, who, name, content, revision)
    view = await run_in_threadpool(rf.case, ref, who)
    response.headers["ETag"] = etag(view.revision)
    response.headers["Location"] = file_out(attached).href
    return file_out(attached)


@router.get("/{ref}/files", response_model=list[EvidenceFileOut],  # type: ignore[valid-type]
            summary="The files of a case's evidence")
def list_files(ref: Annotated[str, Path(max_length=64)], rf: Service, who: Who) -> Any:
    return [file_out(f) for f in rf.evidence_files(ref, who)]


@router.get("/{ref}/files/{file_id}", summary="Download a file of a case's evidence", response_class=Response,
            responses=_DOWNLOAD_RESPONSES)
def download_file(ref: Annotated[str, Path(max_length=64)], file_id: Annotated[int, Path(ge=1, le=2**62)],
                  rf: Service, who: Who) -> Response:
    found, content = rf.evidence_file(ref, file_id, who)
    return Response(content, media_type=found.media_type, headers={
        "Content-Disposition": content_disposition(found.name), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store", "Content-Security-Policy": "default-src 'none'; sandbox"})
