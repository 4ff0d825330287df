"""Korean SMS sizing: bytes counted in CP949 (Hangul 2, ASCII 1, a line break 1), as the carriers do.

<= 90 bytes goes as SMS; up to 2,000 bytes as LMS, which also needs a title of at most 40 bytes.
A character CP949 cannot carry (emoji, `•`, `₩`, a no-break space) would reach the phone as `?` or make
the provider refuse the message, so it is an error that names the character. Hangul syllables outside
KS X 1001 (e.g. `똠`) do encode in CP949 but some handsets show them as `?`: they are flagged, not refused.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

SMS_BYTES = 90
LMS_BYTES = 2_000
LMS_SUBJECT_BYTES = 40


class SmsType(StrEnum):
    SMS = "sms"
    LMS = "lms"


class UnencodableCharacter(ValueError):
    """A character the SMS encoding cannot carry; the message names it and where it is."""

    def __init__(self, char: str, position: int, where: str) -> None:
        name = unicodedata.name(char, "unnamed")
        super().__init__(
            f"{where}: character {char!r} (U+{ord(char):04X} {name}) at position {position}"
            " cannot be sent by SMS (not in CP949)"
        )
        self.char = char
        self.position = position


def normalise(text: str) -> str:
    """One byte per line break whatever the template's line endings."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def cp949_bytes(text: str, where: str = "text") -> int:
    """Byte length as carriers count it; raises UnencodableCharacter naming the first bad character."""
    text = normalise(text)
    try:
        return len(text.encode("cp949"))
    except UnicodeEncodeError as exc:
        raise UnencodableCharacter(text[exc.start], exc.start, where) from None


def non_ks_x_1001(text: str) -> list[str]:
    """Hangul syllables CP949 encodes but strict EUC-KR (KS X 1001) does not: may render as `?`."""
    out = []
    for ch in dict.fromkeys(text):
        if "\uac00" <= ch <= "\ud7a3":
            try:
                if len(ch.encode("euc-kr")) > 2:
                    out.append(ch)
            except UnicodeEncodeError:
                out.append(ch)
    return out


def sms_type(body_bytes: int) -> SmsType | None:
    """SMS up to 90 bytes, LMS up to 2,000; None when even an LMS cannot carry it."""
    if body_bytes <= SMS_BYTES:
        return SmsType.SMS
    if body_bytes <= LMS_BYTES:
        return SmsType.LMS
    return None
