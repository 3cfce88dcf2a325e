"""The SPDY/3 header-compression dictionary (SPDY/3 draft, section 2.6.10.1).

Both directions of every SPDY/3 and SPDY/3.1 session seed their zlib stream with this dictionary,
so a peer that uses a single wrong byte cannot decompress anything we send (zlib checks the
dictionary's Adler-32 before inflating).  The spec prints it as a byte table; here it is written
the way the table is *built*: a run of header names and common values, each preceded by its length
as a 32-bit big-endian integer, followed by a run of raw text (status codes and reason phrases,
dates, media types) without length prefixes.  The result is 1,423 bytes; a test pins its length
and checksum and the interoperability tests prove a Go peer accepts our blocks.
"""

from __future__ import annotations

__all__ = ["SPDY3_DICTIONARY"]

# Length-prefixed entries, in the order of the specification's table.
_TOKENS = (
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
)

# The raw tail, without length prefixes.
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information"
    "204 No Content"
    "301 Moved Permanently"
    "400 Bad Request"
    "401 Unauthorized"
    "403 Forbidden"
    "404 Not Found"
    "500 Internal Server Error"
    "501 Not Implemented"
    "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,public"
    "private"
    "max-age="
    "gzip,deflate,sdch"
    "charset=utf-8"
    "charset=iso-8859-1,utf-,*,enq=0."
)


def _build() -> bytes:
    out = bytearray()
    for token in _TOKENS:
        raw = token.encode("ascii")
        out += len(raw).to_bytes(4, "big")
        out += raw
    out += _TAIL.encode("ascii")
    return bytes(out)


SPDY3_DICTIONARY: bytes = _build()
