"""Uploaded documents are judged by what they are, whole, and by their size, not by their name."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import ApplicationError
from core.uploads import upload_check
from tests import files

PDF = files.pdf("judgment")
PNG = files.image("PNG")
JPEG = files.image("JPEG")


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>", "is not one that can be read"),
        (b"%PDF-1.7 summons", "is not one that can be read"),
        (files.pdf_with_script(), "scripts or actions (/JS, /JavaScript)"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "cannot be read"),  # a PNG header and nothing behind it
        (PNG[:40], "cannot be read"),  # cut short
        (b"\xff\xd8\xff" + PNG[3:], "cannot be read"),  # a JPEG's first bytes on a PNG
    ],
)
def test_a_file_is_checked_whole_not_by_its_first_bytes(content, message):
    with pytest.raises(ApplicationError, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        upload_check(SimpleUploadedFile("scan.pdf", content), field="document")
    assert refused.value.field == "document"


def test_a_stored_name_is_random_with_the_extension_of_what_the_file_is():
    checked = upload_check(SimpleUploadedFile("invoice.html", PDF))
    first, second = checked.stored_name(), checked.stored_name()
    assert first.endswith(".pdf") and first != second and "invoice" not in first
    assert upload_check(SimpleUploadedFile("photo.exe", JPEG)).stored_name().endswith(".jpg")


def test_a_file_over_the_limit_is_refused(settings):
    settings.HUISHOU_MAX_UPLOAD_BYTES = len(PDF) + 500
    with pytest.raises(ApplicationError, match="at most") as refused:
        upload_check(SimpleUploadedFile("big.pdf", PDF + b"0" * 2000))
    assert refused.value.field == "file"
    assert upload_check(SimpleUploadedFile("small.pdf", PDF)).size == len(PDF)


# --- Files stored by work that fails are removed -------------------------------------------------------


@pytest.fixture
def storage(settings, tmp_path):
    from django.core.files.storage import FileSystemStorage

    return FileSystemStorage(location=tmp_path)


class Stored:
    """A stand-in for a model's FieldFile: a name in a storage."""

    def __init__(self, storage, name, content=b"%PDF-1.4"):
        from django.core.files.base import ContentFile

        self.storage, self.name = storage, storage.save(name, ContentFile(content))

    def __bool__(self):
        return True


@pytest.mark.django_db
def test_a_file_written_by_work_that_fails_is_removed_and_one_that_commits_kept(storage):
    from core.uploads import atomic_with_files, written

    with pytest.raises(RuntimeError), atomic_with_files():
        failed = Stored(storage, "failed.pdf")
        written(failed)
        raise RuntimeError("the step after storing failed")
    with atomic_with_files():
        kept = Stored(storage, "kept.pdf")
        written(kept)
    assert not storage.exists(failed.name) and storage.exists(kept.name)


@pytest.mark.django_db
def test_an_inner_block_that_succeeded_loses_its_file_when_the_outer_work_fails(storage):
    from core.uploads import atomic_with_files, written

    with pytest.raises(ApplicationError), atomic_with_files():
        with atomic_with_files():
            inner = Stored(storage, "inner.pdf")
            written(inner)
        assert storage.exists(inner.name)
        raise ApplicationError("refused afterwards")
    assert not storage.exists(inner.name)
    written(Stored(storage, "outside.pdf"))  # outside any block: nothing to track, nothing happens
