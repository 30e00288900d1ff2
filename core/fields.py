from django.db import models

from .money import ZERO

# What a person writes in a note, a reason or a decision: a few paragraphs at most. Every such field
# takes no more, in the forms (max_length), the API (the serializers) and the models (their forms).
NOTE_MAX_LENGTH = 2000


def money_field(verbose_name, **kwargs):
    """A yuan amount with two places; sixteen digits hold any loan book we will see."""
    kwargs.setdefault("default", ZERO)
    kwargs.setdefault("max_digits", 16)
    return models.DecimalField(verbose_name, decimal_places=2, **kwargs)


def rate_field(verbose_name, **kwargs):
    """An annual (or monthly) rate as a fraction: 0.180000 is 18%."""
    return models.DecimalField(verbose_name, max_digits=8, decimal_places=6, **kwargs)
