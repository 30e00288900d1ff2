"""Development on a laptop: debug on; e-mail printed to the console unless EMAIL_URL names a server."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
