"""JSON for requests in Redis: the cluster's ``SCHEDULER_SERIALIZER`` (no pickle).

scrapy-redis stores requests with pickle by default (``scrapy_redis.picklecompat``),
so anyone who can write to the Redis queue can run code in every worker that
reads it. The cluster scheduler uses this module instead: ``request.to_dict()``
as JSON, decoded by ``json.loads`` and ``request_from_dict``, which build only
plain data and a Request (its callbacks are looked up by name on the spider).

What JSON has no type for is tagged, so requests round-trip exactly:
``{"__bytes__": base64}`` (headers, body), ``{"__tuple__": [...]}`` and
``{"__dict__": [[key, value], ...]}`` for a dict whose keys are not all strings
(headers) or which could be mistaken for a tag. Anything else in ``meta`` or
``cb_kwargs`` (a set, an object) is refused with ``TypeError`` when the request
is queued, never silently changed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

_TAGS = frozenset({"__bytes__", "__tuple__", "__dict__"})


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and set(value) & _TAGS):
            return {k: _encode(v) for k, v in value.items()}
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(
        f"cannot queue a {type(value).__name__} in Redis as JSON (request meta and cb_kwargs"
        " must be plain data: str, numbers, bytes, lists, tuples, dicts)"
    )


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _decode_tag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag == "__bytes__":
            return base64.b64decode(value, validate=True)
        if tag == "__tuple__":
            return tuple(value)
        if tag == "__dict__":
            return {_hashable(k): v for k, v in value}
    return obj


def dumps(obj: dict[str, Any]) -> str:
    """A request dict (``Request.to_dict()``) as compact JSON."""
    return json.dumps(_encode(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(data: bytes | str) -> dict[str, Any]:
    """The request dict back; ValueError for anything that is not our JSON (e.g. a pickle)."""
    try:
        obj = json.loads(data, object_hook=_decode_tag)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a JSON request from the cluster queue: {exc}") from None
    if not isinstance(obj, dict) or "url" not in obj:
        raise ValueError("not a JSON request from the cluster queue")
    return obj
