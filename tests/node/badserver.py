"""What a 2xx answer that is not JSON raises in the real client (``orjson.loads`` of its body)."""

import orjson


def not_json_error() -> Exception:
    try:
        orjson.loads(b"<html>502 Bad Gateway</html>")
    except orjson.JSONDecodeError as exc:
        return exc
    raise AssertionError("orjson accepted HTML")
