"""Checking an uploaded document before it is stored: what it is is read from its first bytes (a
browser's or a client's content type and file name are only claims), and then the whole file must
be that: a PDF that parses (pypdf) and carries no JavaScript, launch or form-submitting action, or
an image that decodes (Pillow). A file that merely starts like a PDF (`%PDF-1.4` then an HTML page
with a script) is refused. It must not be too big, and it is stored under a random name the server
chooses, with the extension of what it is. And storing it with the rows that point at it: a file
written by work that then fails is removed again (storage is not transactional, and an orphan file
would outlive the rolled-back rows)."""

import contextvars
import hashlib
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from .errors import ApplicationError

# Leading bytes of each accepted kind, with the content type it is stored as.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}
KIND_NAMES = "PDF, JPEG, PNG"
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
# What a PDF may not carry: scripts, and actions that start programs, fetch data or send forms.
PDF_SCRIPT_KEYS = {"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia", "/XFA"}
PDF_FORBIDDEN_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute"}
DEFAULT_MAX_BYTES = 10 * 2**20  # a scanned judgment of a few dozen pages; settings.HUISHOU_MAX_UPLOAD_BYTES overrides


def max_upload_bytes() -> int:
    return getattr(settings, "HUISHOU_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES)


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size: int
    sha256: str

    def stored_name(self) -> str:
        """A name the server chooses, with the extension of what the file is (never the uploader's)."""
        return f"{uuid.uuid4().hex}{EXTENSIONS[self.content_type]}"


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
    upload.seek(0)
    if content_type == "application/pdf":
        _check_pdf(upload, field)
    else:
        _check_image(upload, content_type, field)
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedUpload(content_type=content_type, size=size, sha256=digest.hexdigest())


def _check_pdf(upload, field):
    try:
        reader = PdfReader(upload, strict=False)
        if reader.is_encrypted:
            raise ApplicationError(_("The PDF is password-protected: upload it without the password."), field=field)
        if len(reader.pages) == 0:
            raise PdfReadError("no pages")
        active = _active_content(reader.trailer)
    except ApplicationError:
        raise
    except Exception:  # pypdf raises many kinds on a broken file; any of them means it is not a PDF
        raise ApplicationError(_("The file starts like a PDF but is not one that can be read."), field=field) from None
    finally:
        upload.seek(0)
    if active:
        raise ApplicationError(
            _("The PDF carries scripts or actions (%(what)s): print it to a plain PDF and upload that.")
            % {"what": ", ".join(sorted(active))},
            field=field,
        )


def _active_content(root) -> set:
    """The script keys and forbidden action types found anywhere reachable from the trailer (the
    catalog, pages, annotations, name trees, object streams alike)."""
    found, seen, stack = set(), set(), [root]
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            found |= PDF_SCRIPT_KEYS & set(node.keys())
            if node.get("/S") in PDF_FORBIDDEN_ACTIONS:
                found.add(str(node["/S"]))
            stack.extend(node.values())
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    return found


def _check_image(upload, content_type, field):
    """The image decodes whole, as what its first bytes say (a PNG header on a JPEG body is refused)."""
    try:
        with Image.open(upload) as image:
            image.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            if image.format != IMAGE_FORMATS[content_type]:
                raise ValueError(image.format)
            image.load()
    except Exception:  # Pillow's errors for a truncated, corrupt or oversized image are many
        raise ApplicationError(_("The image cannot be read: it is damaged or not what it says."), field=field) from None
    finally:
        upload.seek(0)


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
