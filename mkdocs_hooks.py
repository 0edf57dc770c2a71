"""mkdocs hook: the docstrings' Sphinx roles (:class:`X`, :func:`~pkg.mod.f`) as plain code.

griffe's Sphinx parser reads the fields (:param:, :returns:) but leaves inline roles in the
text, which would show as ``:class:X``. The role name goes; a leading ``~`` keeps, as in
Sphinx, only the last part of the dotted name.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):<code>~?(?P<name>[^<]*)</code>"
)


def _plain(match: re.Match[str]) -> str:
    name = match["name"]
    if match[0].split("<code>", 1)[1].startswith("~"):
        name = name.rsplit(".", 1)[-1]
    return f"<code>{name}</code>"


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub(_plain, html)
