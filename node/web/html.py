"""A tiny HTML builder: :func:`el` escapes every string it is given that is not already
:class:`Html`, so nothing typed can become markup."""

import html
from typing import Final


class Html(str):
    """Markup that is already escaped; any other string put in a page is escaped."""


_VOID_ELEMENTS: Final = frozenset({"input", "link", "meta"})


def fragment(*children: str) -> Html:
    return Html("".join(c if isinstance(c, Html) else html.escape(c) for c in children))


def el(tag: str, /, *children: str, **attributes: str | bool | None) -> Html:
    """An element; ``class_`` is ``class``, ``aria_label`` is ``aria-label``, True is bare."""
    rendered = "".join(_attribute(key, value) for key, value in attributes.items())
    if tag in _VOID_ELEMENTS:
        return Html(f"<{tag}{rendered}>")
    return Html(f"<{tag}{rendered}>{fragment(*children)}</{tag}>")


def _attribute(key: str, value: str | bool | None) -> str:
    if value is None or value is False:
        return ""
    name = key.rstrip("_").replace("_", "-")
    return f" {name}" if value is True else f' {name}="{html.escape(value)}"'
