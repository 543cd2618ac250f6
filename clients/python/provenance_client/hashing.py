"""The hashes of docs/hashing.md, computed exactly as the service computes them.

Values are JSON values as Python's json module gives them: dict (string
keys), list or tuple, str, int, float, bool and None. Numbers are IEEE 754
doubles, as in ECMAScript, so 1 and 1.0 are the same number.
"""

import hashlib
import math
from collections.abc import Iterable, Mapping

DEFAULT_VOLATILE_KEYS = (
    "timestamp",
    "createdAt",
    "updatedAt",
    "requestedAt",
    "created_at",
    "updated_at",
    "requested_at",
)

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def canonical_json(value) -> str:
    """RFC 8785 (JCS) text of a JSON value. NaN and infinities are refused (ValueError)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def definition_hash(type: str, payload: Mapping, volatile_keys: Iterable[str] = DEFAULT_VOLATILE_KEYS) -> str:
    """Hash of what a job asks for: its type and its payload without the volatile keys, at any depth."""
    return _sha256_of(definition_document(type, payload, volatile_keys))


def definition_document(type: str, payload: Mapping, volatile_keys: Iterable[str] = DEFAULT_VOLATILE_KEYS) -> dict:
    """The JSON object whose canonical text definition_hash hashes."""
    return {"type": type, "payload": _without_keys(payload, frozenset(volatile_keys))}


def input_hash(definition_hash: str, parents: Mapping[str, "str | None"]) -> str:
    """Hash of a definition and the parent outputs it consumed.

    parents maps every parent job id to its output hash when the job was
    recorded, or to None when the parent had none.
    """
    return _sha256_of(input_document(definition_hash, parents))


def input_document(definition_hash: str, parents: Mapping[str, "str | None"]) -> dict:
    """The JSON object whose canonical text input_hash hashes: the parents sorted by job id (UTF-16 code units)."""
    ordered = sorted(parents.items(), key=lambda item: _utf16_order(item[0]))
    return {
        "definitionHash": definition_hash,
        "parents": [{"jobId": job_id, "outputHash": output} for job_id, output in ordered],
    }


def output_hash(value) -> str:
    """Hash of a job's output, any JSON value."""
    return _sha256_of(value)


def _sha256_of(value) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _without_keys(value, keys: frozenset):
    if isinstance(value, Mapping):
        return {key: _without_keys(member, keys) for key, member in value.items() if key not in keys}
    if isinstance(value, (list, tuple)):
        return [_without_keys(item, keys) for item in value]
    return value


def _utf16_order(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like the code units they encode;
    # surrogatepass keeps lone surrogates, which ECMAScript strings may hold.
    return key.encode("utf-16-be", "surrogatepass")


def _write(value, parts: list[str]) -> None:
    # bool before int: True is an int in Python, but a literal in JSON.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, (int, float)):
        parts.append(_number(value))
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys are strings, not {type(key).__name__}: {key!r}")
        parts.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_order)):
            if index:
                parts.append(",")
            parts.append(_string(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def _string(text: str) -> str:
    escaped = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            escaped.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            # Control characters, and lone surrogates (as ECMAScript's JSON.stringify writes them).
            escaped.append(f"\\u{code:04x}")
        else:
            escaped.append(char)
    escaped.append('"')
    return "".join(escaped)


def _number(number) -> str:
    """ECMAScript Number::toString of the double nearest to number."""
    value = float(number)  # OverflowError for integers beyond the doubles, which JSON numbers are
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value == 0:
        return "0"  # -0 too
    if value < 0:
        return "-" + _number(-value)
    digits, point = _shortest_digits(value)
    count = len(digits)
    # value = 0.<digits> × 10^point; the cases of ECMA-262 Number::toString, with n = point, k = count.
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent = point - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if count == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"


def _shortest_digits(value: float) -> "tuple[str, int]":
    """The shortest digits that round-trip to value (from repr), and where the decimal point goes before them."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point
