"""Jupyter's rich display of what prints as R prints it."""

from __future__ import annotations

import html

__all__ = ["PreformattedHtml", "preformatted_html"]


def preformatted_html(text: str) -> str:
    """``text`` as an HTML ``<pre>`` block, escaped, so a notebook shows it column for column as ``print`` does.

    Examples
    --------
    >>> preformatted_html("a < b")
    '<pre class="mixedfx">a &lt; b</pre>'
    """
    return f'<pre class="mixedfx">{html.escape(text, quote=False)}</pre>'


class PreformattedHtml:
    """A mixin: the object's ``_repr_html_`` is its ``str`` (R's print of it) as :func:`preformatted_html`.

    Examples
    --------
    >>> class Table(PreformattedHtml):
    ...     def __str__(self) -> str:
    ...         return "x  y"
    >>> Table()._repr_html_()
    '<pre class="mixedfx">x  y</pre>'
    """

    def _repr_html_(self) -> str:
        return preformatted_html(str(self))
