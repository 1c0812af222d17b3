"""Files attached to evidence: checked by their content, kept once by their SHA-256 in the evidence folder,
given only to people who may see the case and its action, and every download sealed in the case's history.

The record of each file is in the database (and the dump); its bytes are in the folder, at `AB/ABCDEF...`
(the first two hex digits of the hash, then the hash), written to a temporary file and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import structlog

from reviewflow.engine.core import filetypes
from reviewflow.engine.core import learning as rules
from reviewflow.engine.core.access import Identity, may_see_action
from reviewflow.engine.core.errors import InvalidValue, NotFound, StoreError, TransitionNotAllowed
from reviewflow.engine.core.records import Action, CaseRecord, EvidenceFile
from reviewflow.engine.services.cases import check_revision, not_before
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.private_files import PRIVATE_FOLDER_MODE, private_folder
from reviewflow.engine.services.subgroups import on_case
from reviewflow.engine.services.visibility import require_visible
from reviewflow.store import files, repo
from reviewflow.store import learning as learning_store

log = structlog.get_logger("reviewflow")

ATTACHED, DOWNLOADED = "evidence_file", "file_download"
"""The history triggers of attaching a file and of opening one."""
MEGABYTE = 1024 * 1024


def _megabytes(size: float) -> str:
    return f"{size / MEGABYTE:.1f}".removesuffix(".0")


def _hidden_action(ref: str, number: str) -> NotFound:
    return NotFound(f"case {ref} has no action {number} that you may see", ref=ref, field="action", value=number)


class FileService:
    """Attaching, listing and opening evidence files: one transaction each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- the folder ----------------------------------------------------------------------------

    def folder(self) -> Path:
        """Where evidence files are kept: `[web] evidence_dir`, else `evidence-files` beside a SQLite database."""
        configured = self.ctx.settings.web.evidence_dir
        if configured:
            return Path(configured).expanduser()
        db = self.ctx.db
        if db.is_sqlite and db.path and db.path != ":memory:":
            return Path(db.path).resolve().parent / "evidence-files"
        raise StoreError("evidence files need a folder to be kept in: set [web] evidence_dir in reviewflow.toml (or "
                         "REVIEWFLOW_EVIDENCE_DIR), see docs/operations.md#evidence-files", field="evidence_dir")

    @staticmethod
    def _path(folder: Path, sha256: str) -> Path:
        return folder / sha256[:2] / sha256

    def _keep(self, folder: Path, sha256: str, content: bytes) -> None:
        """Write the bytes under their hash, whole or not at all (the same content is kept once)."""
        target = self._path(folder, sha256)
        try:
            if target.is_file() and target.stat().st_size == len(content):
                return
            private_folder(folder)  # made here, the folder and its subfolders are its owner's only (0700)
            target.parent.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(f"cannot keep the file in the evidence folder {folder}: {exc.strerror or exc}: check "
                             "that it exists and that reviewflow may write to it", field="evidence_dir") from None

    def _read(self, folder: Path, found: EvidenceFile) -> bytes:
        try:
            content = self._path(folder, found.sha256).read_bytes()
        except OSError:
            raise StoreError(f"file {found.id} of {found.ref} is missing from the evidence folder {folder}: restore "
                             "the folder from its backup (docs/operations.md#evidence-files)") from None
        if hashlib.sha256(content).hexdigest() != found.sha256:
            raise StoreError(f"file {found.id} of {found.ref} was altered in the evidence folder {folder}: restore "
                             "it from the backup (docs/operations.md#evidence-files)")
        return content

    # --- checks --------------------------------------------------------------------------------

    def check(self, filename: str, content: bytes) -> filetypes.FileType:
        """The kind of the file, or a one-line refusal (too large, empty, or not a kind that may be attached)."""
        limit = self.ctx.settings.web.max_upload_mb * MEGABYTE
        if len(content) > limit:
            raise InvalidValue(f"the file is {_megabytes(len(content))} MB; the largest accepted is "
                               f"{_megabytes(limit)} MB", field="file", size=len(content))
        try:
            return filetypes.detect(content)
        except filetypes.Refused as exc:
            shown = filetypes.clean_name(filename) or "the file"
            raise InvalidValue(f"{shown} cannot be attached: {exc}", field="file", value=shown) from None

    def _case(self, s: Any, ref: str, actor: str | Identity, write: bool) -> tuple[CaseRecord, Any, Identity,
                                                                                  Identity | None]:
        record = repo.get_case_record(s, ref)
        d = self.ctx.definition_in(s, record.workflow, record.version)
        who = on_case(self.ctx.who(s, actor, write=write), record)
        limited = who if isinstance(actor, Identity) else None
        require_visible(s, limited, d, record)
        return record, d, who, limited

    # --- use cases -----------------------------------------------------------------------------

    def attach(self, ref: str, evidence: str, actor: str | Identity, filename: str | None, content: bytes,
               revision: int | None = None) -> EvidenceFile:
        """Attach a file to evidence still awaiting its decision (whoever may submit evidence for the action)."""
        kind = self.check(filename or "", content)
        name = filetypes.safe_name(filename or "", kind)
        sha256 = hashlib.sha256(content).hexdigest()
        folder = self.folder()
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record, d, who, limited = self._case(s, ref, actor, write=True)
            check_revision(record, revision)
            if not record.is_open and record.state not in d.learning.open_after:
                raise TransitionNotAllowed(f"case {ref} is closed: its evidence can no longer change", ref=ref,
                                           state=record.state)
            not_before(ref, repo.last_change(s, ref), now)
            self.ctx.write_time(s, now)
            found, action = learning_store.find_evidence(s, record.case_id, ref, evidence)
            if limited is not None and not may_see_action(limited, d, action.owner_agency, action.owner):
                raise _hidden_action(ref, action.number)
            rules.check_contribute(d.learning, who.name, who.roles, action.facts(),
                                   f"attaching a file to evidence {found.number}")
            if found.status != "submitted":
                raise TransitionNotAllowed(f"evidence {found.number} was already {found.status} by {found.decided_by}: "
                                           "attach the file to new evidence", ref=ref, field="evidence",
                                           value=found.number)
            self._keep(folder, sha256, content)
            file_id = files.add_file(s, record.case_id, found.id, {"name": name, "media_type": kind.media_type,
                                                                   "size": len(content), "sha256": sha256},
                                     who.recorded, now)
            repo.record_event(s, record.case, ATTACHED, now, who.recorded, None,
                              {"evidence": found.number, "action": action.number, "file": file_id,
                               "media_type": kind.media_type, "size": len(content), "sha256": sha256})
            attached = files.find_file(s, record.case_id, ref, file_id)
        log.info("evidence.file_attached", ref=ref, evidence=attached.evidence, file=file_id, actor=who.recorded,
                 media_type=kind.media_type, size=len(content))
        return attached

    def download(self, ref: str, file_id: int, actor: str | Identity) -> tuple[EvidenceFile, bytes]:
        """A file and its bytes, for someone who may see the case and the action; the download is sealed in the
        case's history (without changing the case's revision, so nobody's open form goes stale)."""
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record, d, who, limited = self._case(s, ref, actor, write=False)
            found = files.find_file(s, record.case_id, ref, file_id)
            action = learning_store.find_action(s, record.case_id, ref, found.action)
            if limited is not None and not may_see_action(limited, d, action.owner_agency, action.owner):
                raise NotFound(f"case {ref} has no file {file_id}: see the case's evidence for its files", ref=ref,
                               field="file", value=file_id)
            content = self._read(self.folder(), found)
            files.record_read(s, record.case_id, record.state, DOWNLOADED, now, who.recorded,
                              {"file": found.id, "evidence": found.evidence, "action": found.action})
        log.info("evidence.file_downloaded", ref=ref, file=file_id, actor=who.recorded)
        return found, content

    def listing(self, ref: str, actor: str | Identity | None = None) -> list[EvidenceFile]:
        """The files of a case's evidence that `actor` may see, in the order they were attached."""
        with self.ctx.read() as s:
            if actor is None:
                return files.files_of_case(s, repo.get_case_record(s, ref).case_id)
            record, d, _who, limited = self._case(s, ref, actor, write=False)
            found = files.files_of_case(s, record.case_id)
            if limited is None:
                return found
            actions: dict[str, Action] = {a.number: a for a in learning_store.actions(s, ref=ref)}
            return [f for f in found if f.action in actions
                    and may_see_action(limited, d, actions[f.action].owner_agency, actions[f.action].owner)]
