"""Visible text of an HTML page (selectolax/Lexbor: tolerant of broken markup; nothing is executed)."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_INVISIBLE = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object", "embed"]
_BLOCKS = ("p,div,br,li,h1,h2,h3,h4,h5,h6,tr,section,article,blockquote,pre,table,ul,ol,header,footer,"
           "nav,aside,dd,dt,hr,figure,figcaption,main,form,title")
_CELLS = "td,th"
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_RUNS = re.compile(r"\n\s*\n\s*")


def html_to_text(html: str) -> str:
    """Text a browser would show: block elements end a line, inline elements do not.

    >>> html_to_text("<p>华泰<b>研究</b></p><script>alert(1)</script><p>ChatGPT</p>")
    '华泰研究\\nChatGPT'
    """
    tree = LexborHTMLParser(html)
    tree.strip_tags(_INVISIBLE)
    root = tree.body or tree.root
    if root is None:
        return ""
    for node in root.css(_BLOCKS):
        node.insert_after("\n")
    for node in root.css(_CELLS):
        node.insert_after("\t")
    lines = (_SPACES.sub(" ", line).strip() for line in root.text(separator="").split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
