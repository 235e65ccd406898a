"""Text that a spreadsheet program would run: CSV injection, escaped as OWASP recommends.

A CSV field that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
becomes a formula when the file is opened in Excel or LibreOffice (``+cmd|' /C
calc'!A0``, ``=HYPERLINK(...)``). ``csv_safe`` puts a ``'`` in front of such a
field, which spreadsheets show as the text itself. Plain signed numbers (``-10``,
``-3.5%``, ``-$1,000``, ``+8.8%``, ``+12``) and a lone ``-`` cannot run anything and
stay as they are, so the file still holds numbers; ``-2+3`` is a formula.
"""

from __future__ import annotations

from table.values import parse_value

__all__ = ["FORMULA_TRIGGERS", "csv_safe"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` as a CSV field no spreadsheet program evaluates."""
    if not text or not text.startswith(FORMULA_TRIGGERS) or text == "-":
        return text
    if text[0] in "-+" and text == text.strip() and not parse_value(text).is_text:
        return text  # a signed number, percentage or amount
    return "'" + text
