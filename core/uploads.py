"""Checking an uploaded document before it is stored: what it is is read from its first bytes (a
browser's or a client's content type and file name are only claims), and it must not be too big.
And storing it with the rows that point at it: a file written by work that then fails is removed
again (storage is not transactional, and an orphan file would outlive the rolled-back rows)."""

import contextvars
import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from .errors import ApplicationError

# Leading bytes of each accepted kind, with the content type it is stored as.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}
KIND_NAMES = "PDF, JPEG, PNG"
DEFAULT_MAX_BYTES = 10 * 2**20  # a scanned judgment of a few dozen pages; settings.HUISHOU_MAX_UPLOAD_BYTES overrides


def max_upload_bytes() -> int:
    return getattr(settings, "HUISHOU_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES)


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size: int
    sha256: str


def upload_check(upload, *, field: str = "file", max_bytes: int | None = None) -> CheckedUpload:
    """The content type, size and SHA-256 of an upload, or a clear error on `field` when it is empty,
    too big, or not a PDF, JPEG or PNG."""
    max_bytes = max_bytes or max_upload_bytes()
    if upload is None:
        raise ApplicationError(_("Choose a file to upload."), field=field)
    size = upload.size
    if not size:
        raise ApplicationError(_("The file is empty."), field=field)
    if size > max_bytes:
        raise ApplicationError(
            _("The file is %(size)s MB; at most %(max)s MB may be uploaded.")
            % {"size": f"{size / 2**20:.1f}", "max": f"{max_bytes / 2**20:g}"},
            field=field,
        )
    upload.seek(0)
    head = upload.read(16)
    content_type = next((kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), None)
    if content_type is None:
        raise ApplicationError(
            _("Only these kinds of file may be uploaded: %(kinds)s.") % {"kinds": KIND_NAMES}, field=field
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedUpload(content_type=content_type, size=size, sha256=digest.hexdigest())


log = logging.getLogger(__name__)
_written = contextvars.ContextVar("files_written", default=None)


@contextmanager
def atomic_with_files():
    """transaction.atomic() for work that stores files: those it wrote (see `written`) are deleted
    when the work fails, its transaction rolled back. Nested, an inner block that succeeds hands its
    files to the outer one, which still removes them if it fails."""
    outer, mine = _written.get(), []
    token = _written.set(mine)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        for storage, name in mine:
            try:
                storage.delete(name)
            except OSError:  # left for an operator; the rows that pointed at it are gone
                log.exception("could not remove %s after a failed transaction", name)
        raise
    else:
        if outer is not None:
            outer.extend(mine)
    finally:
        _written.reset(token)


def written(fieldfile):
    """Note a file just stored inside atomic_with_files(), to be removed if that work fails."""
    files = _written.get()
    if files is not None and fieldfile:
        files.append((fieldfile.storage, fieldfile.name))
