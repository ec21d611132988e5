"""Lines of a terminal's width, broken where a reader expects: between words, between
Chinese characters, never inside a word, an address, a path or a URL, and never so that a
line starts with closing punctuation (、，。；：）...) or ends with opening punctuation
(（「...), as Chinese typesetting requires (the kinsoku rule)."""

from __future__ import annotations

import re

from rich.cells import cell_len

_CJK = "\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
# one CJK character (a line may break between any two), a run of other characters (never
# broken: a word, an address, a URL), or a run of spaces
ATOMS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")
# never at the start of a line: they close what the character before them said
CLOSING = set("、，。；：！？）」』】》〉％…·’”")
# never at the end of a line: they open what follows
OPENING = set("（「『【《〈‘“")


def tokens(text: str) -> list[str]:
    """The unbreakable pieces of `text`, each closing mark glued to what it follows and
    each opening mark to what it precedes."""
    out: list[str] = []
    glue_next = False
    for atom in ATOMS.findall(text):
        if atom.isspace():
            out.append(atom)
            glue_next = False
            continue
        if out and (glue_next or (atom[0] in CLOSING and not out[-1].isspace())):
            out[-1] += atom
        else:
            out.append(atom)
        glue_next = atom[-1] in OPENING
    return out


def wrap(text: str, width: int, indent: int = 0, first: str = "") -> list[str]:
    """`first` + `text` in lines of at most `width` cells, the lines after the first
    starting with `indent` spaces. A piece wider than a line stands alone on its line,
    whole (a terminal shows the rest on the next row; it can still be copied)."""
    lines: list[str] = []
    line = first
    room = width
    for piece in tokens(text):
        if cell_len(line) + cell_len(piece) <= room or not line.strip():
            if piece.isspace() and not line.strip() and lines:
                continue
            line += piece
            continue
        if piece.isspace():
            continue
        lines.append(line.rstrip())
        line = " " * indent + piece
    lines.append(line.rstrip())
    return [ln for ln in lines if ln.strip()]
