"""Which kinds of file may be attached to evidence, told from their content alone. Pure.

The type of an uploaded file is read from its bytes (its signature, and for the Office formats the
parts inside the container), never from its name or the content type the browser sent: a file whose
content is not one of `ALLOWED` is refused. A table of signatures is enough for this short list and
needs no library (the maintained pure-Python detectors need Python 3.12, or guess Word from Excel
by the first few kilobytes).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    """An accepted kind of file: its media type, the extensions it goes by, and a name for people."""

    media_type: str
    extensions: tuple[str, ...]
    label: str


PDF = FileType("application/pdf", (".pdf",), "PDF")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",), "Word")
DOC = FileType("application/msword", (".doc",), "Word 97-2003")
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",), "Excel")
XLS = FileType("application/vnd.ms-excel", (".xls",), "Excel 97-2003")
PNG = FileType("image/png", (".png",), "PNG image")
JPEG = FileType("image/jpeg", (".jpg", ".jpeg"), "JPEG image")
GIF = FileType("image/gif", (".gif",), "GIF image")
WEBP = FileType("image/webp", (".webp",), "WebP image")
ALLOWED = (PDF, DOCX, DOC, XLSX, XLS, PNG, JPEG, GIF, WEBP)
ALLOWED_WORDS = "PDF, Word (.docx, .doc), Excel (.xlsx, .xls) or an image (PNG, JPEG, GIF, WebP)"

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The signature of a Compound File (Word 97-2003 and Excel 97-2003 documents, among others)."""
_ZIP = b"PK\x03\x04"
_PLAIN = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG), (b"GIF87a", GIF),
          (b"GIF89a", GIF))
_ENTRY = 128
"""The size of one directory entry of a Compound File."""
_HEADER = 512


class Refused(ValueError):
    """The content is not an accepted kind of file; the message says why in one line."""


def _ole_streams(content: bytes, names: tuple[str, ...]) -> bool:
    """Whether a Compound File holds a stream with one of `names` (its directory entries hold each name in
    UTF-16, padded to 64 bytes, then its length in bytes with the terminator, then its kind, 2 for a stream)."""
    for name in names:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        at = content.find(encoded, _HEADER)
        while at != -1:
            if (at - _HEADER) % _ENTRY == 0 and len(content) >= at + 67 \
                    and int.from_bytes(content[at + 64:at + 66], "little") == len(encoded) and content[at + 66] == 2:
                return True
            at = content.find(encoded, at + 1)
    return False


def _compound(content: bytes) -> FileType:
    if _ole_streams(content, ("WordDocument",)):
        return DOC
    if _ole_streams(content, ("Workbook", "Book")):
        return XLS
    if _ole_streams(content, ("EncryptedPackage",)):
        raise Refused("it is password-protected: remove the password and upload it again")
    raise Refused("it is an Office 97-2003 file but neither a Word document nor an Excel workbook")


def _office_open(content: bytes) -> FileType:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise Refused(f"it looks like a Word or Excel file but is damaged ({exc})") from None
    if "[Content_Types].xml" not in names:
        raise Refused("it is a ZIP archive, not a Word or Excel file: upload the documents themselves")
    if "word/document.xml" in names:
        found, macros = DOCX, "word/vbaProject.bin"
    elif "xl/workbook.xml" in names:
        found, macros = XLSX, "xl/vbaProject.bin"
    else:
        raise Refused("it is an Office file but neither a Word document nor an Excel workbook")
    if macros in names:
        raise Refused("it contains macros: save it without macros (.docx or .xlsx) and upload it again")
    return found


def detect(content: bytes) -> FileType:
    """The kind of file `content` is, or `Refused` saying why it is not one that may be attached."""
    if not content:
        raise Refused("it is empty")
    for signature, kind in _PLAIN:
        if content.startswith(signature):
            return kind
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return WEBP
    if content.startswith(_OLE):
        return _compound(content)
    if content.startswith(_ZIP):
        return _office_open(content)
    raise Refused(f"its content is not {ALLOWED_WORDS}")


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*;]+')
NAME_LIMIT = 120


def clean_name(name: str) -> str:
    """The last part of a file name as a browser sent it, without control characters, path separators or
    quotes, and at most NAME_LIMIT characters long (empty when nothing is left)."""
    last = re.split(r"[/\\]", name or "")[-1]
    text = "".join(c for c in unicodedata.normalize("NFC", last) if unicodedata.category(c)[0] != "C")
    return " ".join(_UNSAFE.sub(" ", text).split()).strip(" .")[:NAME_LIMIT]


def safe_name(name: str, kind: FileType) -> str:
    """A file name to keep and offer on download: `clean_name`, ending in an extension of `kind`."""
    text = clean_name(name)
    stem, dot, suffix = text.rpartition(".")
    if not dot or f".{suffix.lower()}" not in kind.extensions:
        stem, suffix = text, kind.extensions[0][1:]
    stem = stem[:NAME_LIMIT - len(suffix) - 1].rstrip(" .") or "evidence"
    return f"{stem}.{suffix}"
