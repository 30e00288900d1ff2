"""Checking an uploaded document before it is stored: what it is is read from its first bytes (a
browser's or a client's content type and file name are only claims), and it must not be too big."""

import hashlib
from dataclasses import dataclass

from django.conf import settings
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


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size: int
    sha256: str


def upload_check(upload, *, field: str = "file", max_bytes: int | None = None) -> CheckedUpload:
    """The content type, size and SHA-256 of an upload, or a clear error on `field` when it is empty,
    too big, or not a PDF, JPEG or PNG."""
    max_bytes = max_bytes or getattr(settings, "HUISHOU_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES)
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
