"""Prompts and answers as the TA should read them: Markdown rendered on the server, the HTML sanitised.

markdown-it-py (CommonMark, tables) turns the text into HTML with raw HTML *off*: a ``<script>`` a
student typed comes out as the text ``&lt;script&gt;``. mdit-py-plugins' ``dollarmath`` keeps
``$...$`` and ``$$...$$`` out of Markdown's hands (no ``_`` read as emphasis) as
``<span class="math inline">`` / ``<div class="math block">`` holding the escaped LaTeX, which the page
typesets with the vendored KaTeX (``static/katex``, no network; KaTeX's ``trust`` off: no ``\\href``,
no HTML). nh3 (Ammonia) then keeps only an allow-list of tags and attributes, links to http(s) only:
a second wall should a renderer let anything through. Images are dropped (the page loads nothing
from elsewhere).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

TAGS = {"p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4",
        "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "div", "a", "del", "sup", "sub"}
ATTRIBUTES = {"span": {"class"}, "div": {"class"}, "code": {"class"}, "a": {"href", "title"}, "ol": {"start"},
              "th": {"style"}, "td": {"style"}}

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).use(dollarmath_plugin, double_inline=True).enable("table")


@lru_cache(maxsize=4096)
def to_html(text: str) -> str:
    """``text`` (Markdown with ``$`` LaTeX) as sanitised HTML; math left as elements of class ``math``."""
    return nh3.clean(_MD.render(text or ""), tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer")
