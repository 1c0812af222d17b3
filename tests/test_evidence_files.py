"""Files attached to evidence, on SQLite and PostgreSQL: the type told from the content, kept once by hash, given
only to people who may see the case and its action, every download sealed in the history; and the same through
a real `reviewflow serve`."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.engine.core import filetypes
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import (
    CaseNotFound,
    InvalidValue,
    NotFound,
    NotPermitted,
    StoreError,
    TransitionNotAllowed,
)
from reviewflow.engine.render.timeline import build_timeline, timeline_text
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, WebSettings
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.databases import Templates
from tests.served import Browser, serving

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
SECRET = "grandmother's address is 12 Acacia Avenue"


# --- sample files, made here -------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def _zip(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def _docx(*extra: str) -> bytes:
    return _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>",
                 **{name: "x" for name in extra}})


def _xlsx() -> bytes:
    from openpyxl import Workbook

    out = io.BytesIO()
    book = Workbook()
    book.active["A1"] = "audit"
    book.save(out)
    return out.getvalue()


def _compound(stream: str) -> bytes:
    """A minimal Compound File (the container of Word 97-2003 and Excel 97-2003 files) holding one stream."""
    header = bytearray(b"\xff" * 512)
    header[:0x4C] = bytes(0x4C)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    for at, value, size in ((0x18, 0x3E, 2), (0x1A, 3, 2), (0x1C, 0xFFFE, 2), (0x1E, 9, 2), (0x20, 6, 2),
                            (0x2C, 1, 4), (0x30, 1, 4), (0x38, 4096, 4), (0x3C, 0xFFFFFFFE, 4), (0x44, 0xFFFFFFFE, 4),
                            (0x4C, 0, 4)):
        header[at:at + size] = value.to_bytes(size, "little")
    fat = bytearray(b"\xff" * 512)
    fat[0:8] = (0xFFFFFFFD).to_bytes(4, "little") + (0xFFFFFFFE).to_bytes(4, "little")

    def entry(name: str, kind: int, child: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        body = bytearray(128)
        body[:len(encoded)] = encoded
        body[64:66] = len(encoded).to_bytes(2, "little")
        body[66], body[67] = kind, 1
        body[68:80] = b"\xff" * 8 + child.to_bytes(4, "little")
        body[116:120] = (0xFFFFFFFE).to_bytes(4, "little")
        return bytes(body)

    directory = entry("Root Entry", 5, 1) + entry(stream, 2, 0xFFFFFFFF) + bytes(256)
    return bytes(header) + bytes(fat) + directory


KINDS = [("report.pdf", PDF, filetypes.PDF), ("photo.png", PNG, filetypes.PNG), ("photo.jpg", JPEG, filetypes.JPEG),
         ("chart.gif", GIF, filetypes.GIF), ("scan.webp", WEBP, filetypes.WEBP), ("plan.docx", _docx(), filetypes.DOCX),
         ("audit.xlsx", _xlsx(), filetypes.XLSX), ("old.doc", _compound("WordDocument"), filetypes.DOC),
         ("old.xls", _compound("Workbook"), filetypes.XLS)]


# --- the content decides, never the name ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "kind"), KINDS, ids=[k[0] for k in KINDS])
def test_each_accepted_kind_is_told_from_its_content(name: str, content: bytes, kind: filetypes.FileType) -> None:
    assert filetypes.detect(content) == kind
    assert filetypes.safe_name("anything", kind).endswith(kind.extensions[0])


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "it is empty"),
    (b"MZ\x90\x00 a Windows program", "its content is not PDF, Word (.docx, .doc), Excel (.xlsx, .xls) or an image"),
    (b"<html><script>alert(1)</script></html>", "its content is not PDF"),
    (_zip({"notes.txt": "hello"}), "it is a ZIP archive, not a Word or Excel file"),
    (_docx("word/vbaProject.bin"), "it contains macros"),
    (_compound("EncryptedPackage"), "it is password-protected"),
    (_compound("PowerPoint Document"), "it is an Office 97-2003 file but neither a Word document nor an Excel"),
    (b"PK\x03\x04 damaged", "it looks like a Word or Excel file but is damaged"),
], ids=["empty", "program", "html", "zip", "macros", "encrypted", "powerpoint", "damaged"])
def test_other_content_is_refused_with_one_line(content: bytes, reason: str) -> None:
    with pytest.raises(filetypes.Refused, match="^" + reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        filetypes.detect(content)
    assert "\n" not in str(refused.value)


@given(st.binary(max_size=600))
@example(b"RIFF\x00\x00\x00\x00WEBQ")
@example(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
@example(b"PK\x03\x04")
def test_any_bytes_are_a_kind_or_a_refusal_never_a_traceback(content: bytes) -> None:
    refusal = ""
    try:
        kind = filetypes.detect(content)
    except filetypes.Refused as exc:
        refusal = str(exc)
    if refusal:
        assert "\n" not in refusal
    else:
        assert kind in filetypes.ALLOWED


@given(st.text(max_size=300), st.sampled_from(filetypes.ALLOWED))
@example("../../etc/passwd", filetypes.PDF)
@example('C:\\Users\\x\\"evil";.pdf\r\n', filetypes.PDF)
@example("\u202egnp.exe", filetypes.PNG)
@example("....", filetypes.GIF)
def test_a_kept_name_is_safe_and_ends_in_its_kind(name: str, kind: filetypes.FileType) -> None:
    kept = filetypes.safe_name(name, kind)
    assert not set(kept) & set('/\\"<>:|?*;')
    assert all(c.isprintable() for c in kept)
    assert len(kept) <= filetypes.NAME_LIMIT
    assert kept.lower().endswith(kind.extensions)
    assert not kept.startswith(".")


def test_a_name_keeps_its_right_extension_and_gains_one_when_wrong() -> None:
    assert filetypes.safe_name("C:\\reports\\Audit March.PDF", filetypes.PDF) == "Audit March.PDF"
    assert filetypes.safe_name("scan.pdf", filetypes.PNG) == "scan.pdf.png"
    assert filetypes.safe_name("", filetypes.JPEG) == "evidence.jpg"


# --- the service, on SQLite and PostgreSQL ------------------------------------------------------------------------

def _init(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
    finally:
        rf.db.dispose()


def _story(rf: Reviewflow) -> None:
    """A Police case with a Police action owned by pc.jones and evidence E1 awaiting its decision."""
    rf.add_user("bm", ["business_manager"], "bm@example.org")
    rf.add_user("chair", ["subgroup_chair"], "chair@example.org")
    rf.add_user("pc.jones", ["action_owner"], "pc.jones@example.org", "Police")
    rf.add_user("hv.smith", ["action_owner"], "hv.smith@example.org", "Health")
    rf.add_user("inspector", ["board_chair"], None, "Police")
    rf.open_case("agency_review", "POLICE-1", "bm", {"notifying_agency": "Police", "family_context": SECRET})
    rf.recommend("POLICE-1", "bm", "Share concerns at once", ["information sharing"], ["Police"])
    rf.add_action("POLICE-1", "bm", "R1", "Same-day referrals", "Police", "2026-03-31", "pc.jones", past_due_ok=True)
    rf.submit_evidence("POLICE-1", "A1", "pc.jones", "policy_change", "Policy v3", "POL-77")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "kept"


@pytest.fixture
def rf(database: Database, templates: Templates, folder: Path) -> Reviewflow:
    templates.copy(database.url, f"init with agency_review.yaml at {T0.isoformat()}", _init)
    settings = Settings(web=WebSettings(evidence_dir=str(folder), max_upload_mb=1))
    service = Reviewflow(database, SteppingClock(T0 + timedelta(minutes=1)), settings)
    _story(service)
    return service


def _kept(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_file_is_kept_once_by_hash_and_each_download_is_sealed(rf: Reviewflow, folder: Path) -> None:
    revision = rf.case("POLICE-1").revision
    first = rf.attach_evidence_file("POLICE-1", "E1", Identity("pc.jones"), "C:\\My files\\policy v3.pdf", PDF,
                                    revision=revision)
    again = rf.attach_evidence_file("POLICE-1", "e1", Identity("pc.jones"), "copy.pdf", PDF)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (first.name, first.media_type, first.size, first.sha256) == ("policy v3.pdf", "application/pdf", len(PDF),
                                                                        digest)
    assert (first.evidence, first.action, first.uploaded_by) == ("E1", "A1", "pc.jones")
    assert again.id != first.id
    assert _kept(folder) == [folder / digest[:2] / digest]
    assert rf.case("POLICE-1").revision == revision + 2
    found, content = rf.evidence_file("POLICE-1", first.id, Identity("chair"))
    assert (found, content) == (first, PDF)
    view = rf.case("POLICE-1")
    assert view.revision == revision + 2  # opening a file leaves nobody's form stale
    assert [(h.trigger, h.actor, dict(h.fields)) for h in view.history[-3:]] == [
        ("evidence_file", "pc.jones", {"evidence": "E1", "action": "A1", "file": first.id,
                                       "media_type": "application/pdf", "size": len(PDF), "sha256": digest}),
        ("evidence_file", "pc.jones", {"evidence": "E1", "action": "A1", "file": again.id,
                                       "media_type": "application/pdf", "size": len(PDF), "sha256": digest}),
        ("file_download", "chair", {"file": first.id, "evidence": "E1", "action": "A1"})]
    assert rf.verify_audit().ok
    assert [f.id for f in rf.evidence_files("POLICE-1", Identity("pc.jones"))] == [first.id, again.id]
    told = timeline_text(build_timeline(view, rf.definition("agency_review")))
    assert f"File {first.id} attached to evidence E1 of action A1" in told
    assert "application/pdf" in told
    assert f"File {first.id} of evidence E1 (action A1) downloaded" in told
    assert "policy v3.pdf" not in told, "file names stay out of the timeline"


def test_the_content_decides_the_type_and_a_refusal_writes_nothing(rf: Reviewflow, folder: Path) -> None:
    revision = rf.case("POLICE-1").revision
    with pytest.raises(InvalidValue, match=r"^report\.pdf cannot be attached: its content is not PDF, Word "
                                           r"\(\.docx, \.doc\), Excel \(\.xlsx, \.xls\) or an image \(PNG, JPEG, "
                                           r"GIF, WebP\)$"):
        rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "report.pdf", b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(InvalidValue, match=r"^the file is 1\.5 MB; the largest accepted is 1 MB$"):
        rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "big.pdf", PDF + bytes(1024 * 1024 + 512 * 1024))
    assert rf.case("POLICE-1").revision == revision
    assert _kept(folder) == []
    assert rf.evidence_files("POLICE-1", "bm") == []
    image = rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "scan.pdf", PNG)
    assert (image.name, image.media_type) == ("scan.pdf.png", "image/png")


def test_files_are_for_people_who_may_see_the_case_and_its_action(rf: Reviewflow) -> None:
    attached = rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "policy.pdf", PDF)
    with pytest.raises(CaseNotFound):
        rf.evidence_file("POLICE-1", attached.id, Identity("hv.smith"))
    with pytest.raises(CaseNotFound):
        rf.evidence_files("POLICE-1", Identity("hv.smith"))
    with pytest.raises(CaseNotFound):
        rf.attach_evidence_file("POLICE-1", "E1", Identity("hv.smith"), "x.pdf", PDF)
    with pytest.raises(NotFound, match=f"^case POLICE-1 has no file {attached.id + 1}: "):
        rf.evidence_file("POLICE-1", attached.id + 1, Identity("chair"))
    with pytest.raises(NotPermitted, match="attaching a file to evidence E1"):
        rf.attach_evidence_file("POLICE-1", "E1", Identity("inspector"), "x.pdf", PDF)
    downloads = [h for h in rf.case("POLICE-1").history if h.trigger == "file_download"]
    assert downloads == []


def test_a_decided_evidence_takes_no_more_files(rf: Reviewflow) -> None:
    rf.decide_evidence("POLICE-1", "E1", "chair", True)
    with pytest.raises(TransitionNotAllowed, match="^evidence E1 was already accepted by chair: attach the file to "
                                                   "new evidence$"):
        rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "late.pdf", PDF)
    number = rf.submit_evidence("POLICE-1", "A1", "pc.jones", "audit_result", "Re-audit", "AUD-1",
                                files=[("re-audit.xlsx", _xlsx())])
    assert [(f.evidence, f.media_type) for f in rf.evidence_files("POLICE-1", "bm")] == [
        (number, filetypes.XLSX.media_type)]


def test_a_missing_or_altered_file_is_reported_not_served(rf: Reviewflow, folder: Path) -> None:
    attached = rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "policy.pdf", PDF)
    (kept,) = _kept(folder)
    kept.write_bytes(PDF + b"tampered")
    with pytest.raises(StoreError, match=f"^file {attached.id} of POLICE-1 was altered in the evidence folder"):
        rf.evidence_file("POLICE-1", attached.id, "chair")
    kept.unlink()
    with pytest.raises(StoreError, match=f"^file {attached.id} of POLICE-1 is missing from the evidence folder"):
        rf.evidence_file("POLICE-1", attached.id, "chair")
    assert [h for h in rf.case("POLICE-1").history if h.trigger == "file_download"] == []


def test_the_folder_defaults_beside_sqlite_and_is_required_with_postgres(database: Database, templates: Templates,
                                                                         tmp_path: Path) -> None:
    templates.copy(database.url, f"init with agency_review.yaml at {T0.isoformat()}", _init)
    rf = Reviewflow(database, SteppingClock(T0 + timedelta(minutes=1)))
    _story(rf)
    if database.is_sqlite:
        rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "policy.pdf", PDF)
        assert (tmp_path / "evidence-files").is_dir()
        return
    with pytest.raises(StoreError, match=r"^evidence files need a folder to be kept in: set \[web\] evidence_dir"):
        rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "policy.pdf", PDF)
    assert rf.case("POLICE-1").history[-1].trigger == "evidence_submit"


def test_files_stay_out_of_notifications(rf: Reviewflow) -> None:
    rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "Smith family assessment.pdf", PDF)
    rf.decide_evidence("POLICE-1", "E1", "chair", False, "not enough")
    payloads = " ".join(str(e.payload) for e in rf.outbox())
    assert "evidence_rejected" in {e.event for e in rf.outbox()}
    assert "Smith" not in payloads
    assert "%PDF" not in payloads


def test_the_dump_carries_the_file_records(rf: Reviewflow, tmp_path: Path, templates: Templates) -> None:
    attached = rf.attach_evidence_file("POLICE-1", "E1", "pc.jones", "policy.pdf", PDF)
    text, counts = rf.export_dump()
    assert counts["evidence_files"] == 1
    assert attached.sha256 in text
    assert "%PDF" not in text
    target = Reviewflow(Database(f"sqlite:///{tmp_path / 'copy.db'}"), rf.clock, rf.settings)
    try:
        templates.copy(target.db.url, f"init with agency_review.yaml at {T0.isoformat()}", _init)
        target.import_dump(text, "dump.json")
        assert target.evidence_files("POLICE-1", "bm") == [attached]
        assert target.evidence_file("POLICE-1", attached.id, "bm")[1] == PDF
    finally:
        target.db.dispose()


# --- through a real `reviewflow serve` -----------------------------------------------------------------------------

@dataclass
class World:
    base: str
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("files")
    url = f"sqlite:///{folder / 'files.db'}" if request.param == "sqlite" else pg_url_or_skip()
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(days=1)))
    try:
        _init(url)
        _story(rf)
        for name in ("bm", "chair", "pc.jones", "hv.smith"):
            rf.set_password(None, name, PASSWORD)
        tokens = {name: rf.create_token(Identity(name), name, "files", "write").secret
                  for name in ("chair", "pc.jones", "hv.smith")}
        tokens["chair-read"] = rf.create_token(Identity("chair"), "chair", "files", "read").secret
    finally:
        rf.db.dispose()
    config = folder / "reviewflow.toml"
    config.write_text(f'[web]\nevidence_dir = "{folder / "kept"}"\nmax_upload_mb = 1\n', "utf-8")
    with serving(url, config=config) as base:
        yield World(base, tokens)


def _upload(who: Browser, name: str, content: bytes, media_type: str = "application/octet-stream",
            **kw: object) -> httpx.Response:
    tag = who.get("/api/v1/cases/POLICE-1").headers.get("ETag", "")
    return who.request("POST", "/api/v1/cases/POLICE-1/evidence/E1/files", files={"file": (name, content, media_type)},
                       headers={"If-Match": tag}, **kw)  # type: ignore[arg-type]


def test_upload_then_download_through_the_api(world: World) -> None:
    owner = Browser(world.base, world.tokens["pc.jones"])
    answer = _upload(owner, "Policy v3.pdf", PDF, "text/plain")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["name"], made["media_type"], made["size"]) == ("Policy v3.pdf", "application/pdf", len(PDF))
    assert answer.headers["Location"] == made["href"]
    assert answer.headers["ETag"] == owner.get("/api/v1/cases/POLICE-1").headers["ETag"]
    reader = Browser(world.base, world.tokens["chair-read"])
    got = reader.get(made["href"])
    assert got.status_code == 200, got.text
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == \
        "attachment; filename=\"Policy v3.pdf\"; filename*=UTF-8''Policy%20v3.pdf"
    listed = reader.get("/api/v1/cases/POLICE-1/files").json()
    assert made in listed
    case = reader.get("/api/v1/cases/POLICE-1").json()
    assert any(h["trigger"] == "file_download" and h["actor"] == "chair" for h in case["history"])


def test_the_api_refuses_what_the_service_refuses(world: World) -> None:
    owner = Browser(world.base, world.tokens["pc.jones"])
    refused = _upload(owner, "notes.pdf", b"just some text", "application/pdf")
    assert refused.status_code == 422
    assert refused.json()["detail"] == ("notes.pdf cannot be attached: its content is not PDF, Word (.docx, .doc), "
                                        "Excel (.xlsx, .xls) or an image (PNG, JPEG, GIF, WebP)")
    too_big = _upload(owner, "big.pdf", PDF + bytes(2 * 1024 * 1024))
    assert too_big.status_code == 422
    assert "largest accepted" in too_big.json()["detail"]
    no_tag = owner.request("POST", "/api/v1/cases/POLICE-1/evidence/E1/files", files={"file": ("a.pdf", PDF)})
    assert no_tag.status_code == 400
    assert no_tag.json()["field"] == "If-Match"
    no_file = owner.request("POST", "/api/v1/cases/POLICE-1/evidence/E1/files", data={"other": "x"},
                            headers={"If-Match": owner.get("/api/v1/cases/POLICE-1").headers["ETag"]})
    assert no_file.status_code == 400
    outsider = Browser(world.base, world.tokens["hv.smith"])
    assert outsider.request("POST", "/api/v1/cases/POLICE-1/evidence/E1/files", files={"file": ("a.pdf", PDF)},
                            headers={"If-Match": '"r1"'}).status_code == 404
    href = _upload(owner, "a.gif", GIF).json()["href"]
    assert outsider.get(href).status_code == 404
    assert outsider.get("/api/v1/cases/POLICE-1/files").status_code == 404
    assert Browser(world.base, world.tokens["chair-read"]).request(
        "POST", "/api/v1/cases/POLICE-1/evidence/E1/files", files={"file": ("a.pdf", PDF)},
        headers={"If-Match": owner.get("/api/v1/cases/POLICE-1").headers["ETag"]}).status_code == 403


def test_a_session_upload_needs_the_csrf_token(world: World) -> None:
    person = Browser(world.base)
    assert person.sign_in("pc.jones", PASSWORD).status_code == 200
    assert _upload(person, "a.png", PNG, csrf=False).status_code == 403
    assert _upload(person, "a.png", PNG).status_code == 201
