"""The fenced code blocks of a Markdown page, and running its Python blocks as one session.

Shared by the tests that keep the README's and the docs site's snippets honest
(``tests/docs/test_readme.py``, ``tests/docs/test_docs.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

# A fence at the start of a line, its language, its body, and the closing fence on its own
# line. Indented fences (inside list items) are not snippets the pages promise to run.
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def code_blocks(markdown: str, language: str) -> list[str]:
    """The bodies of the page's fenced blocks in ``language`` (``""``: no language), in order."""
    return [m["body"] for m in _FENCE.finditer(markdown) if m["lang"] == language]


def run_python_blocks(path: Path, namespace: dict[str, object] | None = None) -> list[str]:
    """Execute every ```python block of the page at ``path``, in order, in one namespace (as a
    reader pasting them into one notebook would), relative to the current directory.

    A failing block raises with the page's name and the line within the block in its traceback.
    Returns the blocks run, so a caller can check there were as many as it expects.
    """
    scope: dict[str, object] = {} if namespace is None else namespace
    blocks = code_blocks(path.read_text(encoding="utf-8"), "python")
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"{path.name} (python block {number})", "exec"), scope)
    return blocks
