"""Uploaded documents are judged by their first bytes and their size, not by their name."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import ApplicationError
from core.uploads import upload_check

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.mark.parametrize(("content", "kind"), [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")])
def test_pdfs_and_images_are_accepted_with_their_digest(content, kind):
    upload = SimpleUploadedFile("judgment.bin", content, content_type="application/octet-stream")
    checked = upload_check(upload)
    assert (checked.content_type, checked.size, checked.sha256) == (
        kind,
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    assert upload.read() == content  # left at the start for storing


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("judgment.pdf", b"MZ\x90\x00 a Windows program", "Only these kinds of file"),
        ("notes.pdf", b"plain text that says it is a PDF", "Only these kinds of file"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_anything_else_is_refused_on_its_field(name, content, message):
    with pytest.raises(ApplicationError, match=message) as refused:
        upload_check(SimpleUploadedFile(name, content, content_type="application/pdf"), field="document")
    assert refused.value.field == "document"


def test_a_file_over_the_limit_is_refused(settings):
    settings.HUISHOU_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ApplicationError, match="at most") as refused:
        upload_check(SimpleUploadedFile("big.pdf", PDF + b"0" * 2000))
    assert refused.value.field == "file"
    assert upload_check(SimpleUploadedFile("small.pdf", PDF)).size == len(PDF)
