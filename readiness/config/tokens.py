"""Is a token the project asks for (the agents' token, ...) strong enough to sign with?

The agents' token is a shared HMAC key: whoever knows it can make any agent run any
probe the site file allows. A placeholder left from the example, or a short word, is
guessed by anyone who has read the README, so `validate` refuses it.

The judgement is deliberately conservative and needs no dictionary: the characters a
token is made of say how many bits each can carry at most (hex 4, base64 6), and the
length times that must reach 128 bits. A random token of the usual generators passes
(`secrets.token_urlsafe(32)`: 43 characters, 258 bits; `token_hex(16)`: 32 characters,
128 bits); a word, a date, a repeated pattern or the example's text does not.
"""

from __future__ import annotations

import math
import re
import string

MIN_BITS = 128
MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'

# Text that only a person fills in: an example's placeholder, a reminder, a default.
# Compared without case and without separators, so CHANGE-ME, change_me and ChangeMe
# are one word. None of these is likely inside a random token of 128+ bits (the
# shortest, "secret", appears by chance in about one random 43-character token in 10^8).
PLACEHOLDER_WORDS = ("changeme", "placeholder", "replaceme", "example", "password",
                     "passwd", "secret", "token", "default", "fillmein")

_ALPHABETS = (  # (characters, bits each) from the narrowest
    (set(string.digits), math.log2(10)),
    (set(string.hexdigits.lower()), 4.0),
    (set(string.hexdigits.upper()), 4.0),
    (set(string.ascii_lowercase + string.digits), math.log2(36)),
    (set(string.ascii_uppercase + string.digits), math.log2(36)),
    (set(string.ascii_letters + string.digits + "-_+/"), 6.0),  # base64 and base64url
)
_PRINTABLE_BITS = 6.0  # anything else counts no more than base64: it was likely typed


def bits_at_most(token: str) -> float:
    """An upper bound of the randomness a token of this length and alphabet can carry."""
    body = token.rstrip("=")  # base64 padding carries nothing
    chars = set(body)
    per_char = next((bits for alphabet, bits in _ALPHABETS if chars <= alphabet),
                    _PRINTABLE_BITS)
    return len(body) * per_char


def _repeats(token: str) -> bool:
    """A pattern written out again and again (abcabc..., 0000...) or a few characters
    used over and over: typed by a person, not drawn at random."""
    if len(token) >= 2 and (token + token).find(token, 1) < len(token):
        return True
    # 32 random hex digits use about 14 distinct ones; fewer than 8 is not random
    return len(set(token)) < min(8, len(token))


def token_weakness(token: str) -> str | None:
    """Why this token must not sign anything (no word of the value in it), or None."""
    folded = re.sub(r"[\s_.\-]", "", token.lower())
    if any(word in folded for word in PLACEHOLDER_WORDS):
        return "is still a placeholder (such as the example's CHANGE-ME text), not a token"
    if _repeats(token):
        return "repeats a few characters or a pattern: it is not random"
    if bits_at_most(token) < MIN_BITS:
        return (f"is too short to be a secret: a token needs at least {MIN_BITS} bits of "
                "randomness (e.g. 22+ random base64 characters or 32+ random hex digits)")
    return None
