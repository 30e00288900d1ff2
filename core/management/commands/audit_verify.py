"""manage.py audit_verify: seal what is waiting, walk the activity log's chain, record the result,
and say where it breaks (exit status 1 when it does)."""

from django.core.management.base import BaseCommand, CommandError

from core import audit_chain


class Command(BaseCommand):
    help = "Walk the activity log's hash chain and name the first entry that does not match it."

    def handle(self, *args, **options):
        sealed = audit_chain.seal()
        result = audit_chain.verify()
        if result.intact:
            self.stdout.write(
                f"The activity log's chain is intact: {result.entries:,} entries verified "
                f"({sealed:,} sealed just now, {result.unsealed:,} still being written)."
            )
            return
        raise CommandError(
            f"The activity log's chain breaks at entry {audit_chain.broken_entry_label(result)}, after "
            f"{result.entries:,} intact entries: it was changed or an entry was removed."
        )
