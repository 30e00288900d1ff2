"""DRF's JSON parser, with a body nested deeper than Python's decoder goes (`[` a thousand times
deep) answered as a 400 in the API's error shape instead of a RecursionError and a 500. No request
this API takes nests more than a few levels."""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON is nested too deeply to read.")) from None
