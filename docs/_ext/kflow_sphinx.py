"""Sphinx glue for kernel-flows: read the docstrings as the plain text they are, and the GitHub anchors of docs/*.md.

- :func:`plain_text_to_rst` (hooked on ``autodoc-process-docstring``): the docstrings of ``theory`` and ``verify``
  are plain text with reST roles (``:func:`…```, double-backquoted code). Two plain-text habits mean something
  else in reST: ``|x|`` (an absolute value or a norm) would be a substitution reference, and an indented block
  after a paragraph (a formula, a usage line) would be a block quote whose lines are reflowed. The first is
  escaped, the second becomes a literal block, so the page shows what the source shows.
- :class:`HtmlAnchors`: the Markdown pages name sections by an HTML anchor (``## <a id="t3"></a>T3 — …``, what
  GitHub links to as ``theory.md#t3``); the transform makes each anchor a MyST slug, so ``[…](theory.md#t3)`` and
  ``[…](#t3)`` resolve in the Sphinx build too (and never to a Python object that happens to share the name).
"""
from __future__ import annotations

import re

from docutils import nodes
from docutils.transforms import Transform

#: the first line of a paragraph whose indented continuation belongs to it: a list item, a field, a directive, a doctest
STRUCTURED = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|\(\w\)\s|:[^:\s][^:]*:(?:\s|$)|\.\.\s|>>>)")
#: inline literals and interpreted text (roles): the spans where ``|`` is already literal
INLINE_CODE = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]+`|`[^`]+`)")
#: an HTML anchor in a Markdown heading, as GitHub renders it
HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""", re.IGNORECASE)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_bars(line: str) -> str:
    """``line`` with every ``|`` outside inline code and roles escaped (``\\|``): never a substitution reference."""
    parts = INLINE_CODE.split(line)
    return "".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


def plain_text_to_rst(lines: list[str]) -> list[str]:
    """The reST of a plain-text docstring (its lines, already dedented): bars escaped, indented blocks literal.

    An indented block that follows a blank line and a paragraph which is not a list item, field, directive or
    doctest becomes a literal block (``::`` inserted before it); literal blocks after ``::`` and doctest blocks
    are kept as they are.

    >>> plain_text_to_rst(["Norm |x| of ``a|b``:", "", "    y = |x|", "    z = 2"])
    ['Norm \\\\|x\\\\| of ``a|b``:', '', '::', '', '    y = |x|', '    z = 2']
    """
    out: list[str] = []
    literal_above: int | None = None  # indent of the paragraph that opened the current literal block
    in_doctest = False
    after_blank = True
    first: str | None = None  # first line of the last paragraph
    last: str | None = None  # last line of the last paragraph
    for line in lines:
        stripped = line.strip()
        indent = _indent(line)
        if literal_above is not None:
            if not stripped or indent > literal_above:
                out.append(line)
                continue
            literal_above = None
        if not stripped:
            out.append(line)
            after_blank, in_doctest = True, False
            continue
        if in_doctest or stripped.startswith(">>>"):
            out.append(line)
            in_doctest, after_blank, first, last = True, False, line, line
            continue
        if (after_blank and first is not None and last is not None and indent > _indent(first)
                and not last.rstrip().endswith("::") and not STRUCTURED.match(first)):
            # an indented block after a paragraph: preformatted text (a formula, a usage line)
            literal_above = _indent(first)
            out.extend([" " * literal_above + "::", "", line])
            after_blank = False
            continue
        out.append(escape_bars(line))
        if after_blank:
            first = line
        last, after_blank = line, False
        if stripped.endswith("::"):
            literal_above = _indent(first)
    return out


def process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    """``autodoc-process-docstring`` handler: rewrite ``lines`` in place by :func:`plain_text_to_rst`."""
    lines[:] = plain_text_to_rst(lines)


class HtmlAnchors(Transform):
    """Make every HTML anchor of a Markdown page (``<a id="t3"></a>``, in a heading or in the text) a MyST slug.

    GitHub links ``theory.md#t3`` to such an anchor, and the HTML build keeps it (MyST passes inline HTML through);
    recording it in the document's ``myst_slugs`` (which Sphinx keeps for links from other documents) lets MyST
    resolve ``[…](#t3)`` and ``[…](theory.md#t3)`` to it, before it would look for a Python object of that name.
    Runs before MyST resolves ``[…](#id)`` links (priority 879).
    """

    default_priority = 870

    def apply(self, **kwargs) -> None:
        """Record every HTML anchor of the document as a slug naming itself (with its heading's text, if any)."""
        slugs = getattr(self.document, "myst_slugs", None)
        if slugs is None:
            return
        for raw in self.document.findall(nodes.raw):
            for anchor in HTML_ANCHOR.findall(raw.astext()):
                title = raw.parent if isinstance(raw.parent, nodes.title) else None
                text = "".join(t.astext() for t in title.findall(nodes.Text)) if title is not None else ""
                slugs.setdefault(anchor, (raw.line, anchor, text))


def setup(app) -> dict:
    """Register the docstring hook and the anchor transform."""
    app.connect("autodoc-process-docstring", process_docstring)
    app.add_transform(HtmlAnchors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
