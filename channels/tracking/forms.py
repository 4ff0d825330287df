"""Reading small POST bodies: urlencoded and multipart/form-data (RFC 8058 allows both), without a
multipart dependency (the standard library's email parser reads MIME)."""

from __future__ import annotations

import email.parser
import email.policy
from urllib.parse import parse_qsl


def form_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """(name, value) pairs of a form body, in order; an unreadable body has none."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            return []
        fields = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                fields.append((str(name), text.strip()))
        return fields
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return []


def is_one_click(content_type: str, body: bytes) -> bool:
    """RFC 8058: the body is the key/value pair `List-Unsubscribe=One-Click`."""
    return ("List-Unsubscribe", "One-Click") in form_fields(content_type, body)
