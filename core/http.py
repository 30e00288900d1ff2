"""Small answers every dashboard page gives the same way."""

from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def safe_next(request, fallback):
    """The POSTed `next` address when it points at this site, else `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def redirect_back(request, url):
    """Back to `url` after a POST: a full page load for htmx requests too (the page around the form changed)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
