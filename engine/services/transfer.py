"""Everything out and back in: the JSON dump of every table, read and written as files, optionally encrypted.

An encrypted dump is the dump's UTF-8 bytes sealed with AES-256-GCM under a key derived from a passphrase with
scrypt. The file starts with a header, which is also the cipher's associated data (so a changed header is
refused like changed content):

| bytes | what |
|---|---|
| 21 | `REVIEWFLOW-ENCRYPTED` and a newline (the magic) |
| 1  | format version, 1 |
| 1  | scrypt cost: log2 of N |
| 1  | scrypt block size r |
| 1  | scrypt parallelism p |
| 16 | scrypt salt (random) |
| 12 | AES-GCM nonce (random) |

then the ciphertext and its 16-byte tag.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue, UsageError
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.private_files import write_private
from reviewflow.store import dump, importing

log = structlog.get_logger("reviewflow.dump")


@dataclass(frozen=True)
class ImportResult:
    counts: dict[str, int]
    replaced_definitions: int
    exported_at: str
    reviewflow_version: str
    dry_run: bool


class _RollBack(Exception):
    """Ends a dry run's transaction after every insert was checked by the database."""


def export_dump(ctx: ServiceContext, accounts: AccountService,
                by: Identity | None = None) -> tuple[str, dict[str, int]]:
    """Every row of every table as dump text (read in one transaction), and the row count of each table.

    Everything, sensitive fields included: administrators only; the export is sealed in the audit chain first."""
    who = accounts.require_admin(by, "exporting everything")
    with ctx.transaction() as s:
        accounts.audit(s, who, "dump.export", ctx.db.shown, {})
    with ctx.read() as s:
        text, counts = dump.dump_text(s, ctx.clock())
    log.info("dump.exported", tables=len(counts), rows=sum(counts.values()))
    return text, counts


def import_dump(ctx: ServiceContext, accounts: AccountService, text: str, source: str, dry_run: bool = False,
                by: Identity | None = None) -> ImportResult:
    """Load a dump into an empty, initialised database in one transaction, keeping every id. The dump's users,
    definitions and administration log replace those `init` made; the import is sealed on top of them."""
    who = accounts.require_admin(by, "importing a dump")
    header, rows = dump.read_dump(text, source)
    ctx.ensure_ready()
    counts = {t.name: len(rows.get(t.name, [])) for t in importing.tables()}
    result = ImportResult(counts, 0, str(header.get("exported_at")), str(header.get("reviewflow_version")), dry_run)
    try:
        with ctx.transaction() as s:
            replaced = dump.load_rows(s, rows, ctx.db.shown)
            result = ImportResult(counts, replaced, result.exported_at, result.reviewflow_version, dry_run)
            accounts.audit(s, who, "dump.import", source, {"exported_at": result.exported_at,
                                                           "rows": sum(counts.values())})
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    log.info("dump.imported", tables=len(counts), rows=sum(counts.values()), dry_run=dry_run)
    return result


MAGIC = b"REVIEWFLOW-ENCRYPTED\n"
ENCRYPTION_VERSION = 1
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
"""scrypt's cost (N = 2**17, 128 MiB of memory, r = 8, p = 1: OWASP's recommendation); kept in each file's
header, so a later version may raise it and still read older files."""
_MAX_LOG2_N, _MAX_R, _MAX_P = 20, 32, 16
"""The most a file's header may ask for: a forged header cannot make reading it take all the memory."""
SALT_BYTES, NONCE_BYTES, TAG_BYTES = 16, 12, 16
_HEADER = len(MAGIC) + 4 + SALT_BYTES + NONCE_BYTES
MIN_PASSPHRASE = 8
PASSPHRASE_ENV = "REVIEWFLOW_EXPORT_PASSPHRASE"
"""Where scripts give the passphrase of an encrypted export or import (else the command line asks for it)."""

PassphraseSource = Callable[[], str]
"""Asked for the passphrase only when the file read is encrypted."""


def _key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2 ** log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))


def check_passphrase(passphrase: str) -> str:
    """The passphrase, or a refusal when it is too short to protect an export."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidValue(f"the passphrase has {len(passphrase)} characters; an encrypted export needs at least "
                           f"{MIN_PASSPHRASE}: choose a longer one", field="passphrase")
    return passphrase


def encrypt(data: bytes, passphrase: str) -> bytes:
    """`data` sealed under `passphrase`: the header (module docstring), then the ciphertext and its tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header = MAGIC + bytes([ENCRYPTION_VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P]) + salt + nonce
    key = _key(check_passphrase(passphrase), salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return header + AESGCM(key).encrypt(nonce, data, header)


def is_encrypted(data: bytes) -> bool:
    return data.startswith(MAGIC)


def decrypt(data: bytes, passphrase: str, source: str) -> bytes:
    """The bytes sealed in `data` (an encrypted export), or a one-line refusal: a wrong passphrase, a changed
    or cut file, and a file made by a newer reviewflow are each said so."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(data) < _HEADER + TAG_BYTES:
        raise InvalidValue(f"{source} is an encrypted export cut short: export it again", value=source)
    version, log2_n, r, p = data[len(MAGIC):len(MAGIC) + 4]
    if version != ENCRYPTION_VERSION:
        raise InvalidValue(f"{source} is encrypted in format {version}, which this reviewflow cannot read: import it "
                           "with the reviewflow that exported it, or a newer one", value=source)
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise InvalidValue(f"{source} has a damaged encryption header: export it again", value=source)
    salt = data[len(MAGIC) + 4:len(MAGIC) + 4 + SALT_BYTES]
    nonce = data[_HEADER - NONCE_BYTES:_HEADER]
    key = _key(passphrase, salt, log2_n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, data[_HEADER:], data[:_HEADER])
    except InvalidTag:
        raise InvalidValue(f"wrong passphrase for {source}, or the file was changed after it was exported: check "
                           "the passphrase and try again; nothing was imported", field="passphrase",
                           value=source) from None


def write_file(path: Path, text: str, passphrase: str | None = None) -> None:
    """Write the dump readable by its owner only (0600), whole or not at all; encrypted under `passphrase` if
    one is given."""
    data = text.encode("utf-8")
    write_private(path, encrypt(data, passphrase) if passphrase is not None else data)


def read_file(path: Path, passphrase: PassphraseSource | None = None) -> str:
    """The dump text in `path`; an encrypted export is opened with the passphrase `passphrase` gives."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}", value=str(path)) from None
    if is_encrypted(data):
        if passphrase is None:
            raise UsageError(f"{path} is an encrypted export: give its passphrase (set {PASSPHRASE_ENV}, or run "
                             "the import on a terminal to be asked for it)", field="passphrase", value=str(path))
        data = decrypt(data, passphrase(), str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidValue(f"{path} is not a reviewflow dump: it is not UTF-8 text", value=str(path)) from None
