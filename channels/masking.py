"""Masking of personal data for logs, errors and previews."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """01012345678 -> 010-****-5678."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}-****-{digits[-4:]}"


def mask_email(email: str | None) -> str:
    """minji.kim@naver.com -> m*******@naver.com."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    if not domain:
        return local[:1] + "*" * max(len(local) - 1, 0)
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"


def mask_name(name: str | None) -> str:
    """김민지 -> 김*지, 홍길 -> 홍*."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_token(token: str | None) -> str:
    """Keep only enough of a push token or endpoint to tell two apart."""
    if not token:
        return ""
    return token[:6] + "…" if len(token) > 6 else "*" * len(token)


def mask_address(channel: str, address: str | None) -> str:
    """Mask an address according to what kind of address the channel uses."""
    if channel == "email":
        return mask_email(address)
    if channel in ("sms", "kakao"):
        return mask_phone(address)
    return mask_token(address)
