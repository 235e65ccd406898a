"""Typed values for recognised cell text: numbers, percentages, currency and dates.

``parse_value("1,234.50")`` gives ``TypedValue(1234.5, "#,##0.00", "decimal")``: the
number a spreadsheet can compute with, plus a number format under which the
spreadsheet displays exactly the text on the page. Anything that cannot be shown
that way, anything ambiguous, codes with leading zeros and formula-like text stay
text: a wrong number that looks right is worse than a string.

Two readings of a text can look alike on the page and differ in value:

* ``1,234`` is one thousand two hundred and thirty-four in English and 1.234 in
  most of Europe (``1.234`` the other way round);
* ``03/04/2024`` is 4 March (day first) or 3 April (month first).

``parse_value`` takes the English reading of the first and keeps the second as text
unless told otherwise by a ``ValueConventions``; ``infer_conventions`` finds the
conventions of a whole table from its unambiguous cells (``1.234,56`` or
``15/03/2024`` settle them), which is how the exporter uses it.

European numbers get the number-format locale ``[$-407]`` (German separators), so
LibreOffice displays ``1.234,56`` whatever the user's locale; Excel applies its own
system separators to them. Month names get ``[$-409]`` (English), so they read
``Mar`` on every system.

``render(value, number_format)`` displays a value under the formats produced here,
the way a spreadsheet does. ``parse_value`` checks every result with it, so a
format that would show a different text never leaves this module.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "KINDS",
    "TypedValue",
    "ValueConventions",
    "infer_conventions",
    "parse_value",
    "render",
]

KINDS = ("int", "decimal", "percent", "currency", "date", "text")

# A float holds 15 significant decimal digits exactly; longer digit strings
# (account numbers, barcodes) would be shown rounded, so they stay text.
_MAX_DIGITS = 15

_CURRENCY_SYMBOLS = "$€£¥"
_LOCALE_DE = "[$-407]"  # German: "." groups thousands, "," is the decimal separator
_LOCALE_EN = "[$-409]"  # English (US): month names

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
_MONTH_ABBR = tuple(m[:3] for m in MONTHS)
_MONTH_BY_NAME = {name: i + 1 for i, name in enumerate(MONTHS)}
_MONTH_BY_ABBR = {name: i + 1 for i, name in enumerate(_MONTH_ABBR)}


@dataclass(frozen=True)
class TypedValue:
    """A cell's value as a spreadsheet should store it.

    ``value`` is an int, float, ``datetime.date`` or (for ``kind == "text"``) the
    original string; ``number_format`` is the Excel format code that displays the
    value as the original text (``None`` for text).
    """

    value: int | float | _dt.date | str
    number_format: str | None
    kind: str

    @property
    def is_text(self) -> bool:
        return self.kind == "text"


@dataclass(frozen=True)
class ValueConventions:
    """How to read texts that have two plausible readings.

    decimal_comma: True reads ``1,234`` as 1.234 and ``1.234`` as 1234; False or
        None reads them the English way.
    day_first: True reads ``03/04/2024`` as 3 April, False as 4 March; None keeps
        such dates as text.
    """

    decimal_comma: bool | None = None
    day_first: bool | None = None


def _text(text: str) -> TypedValue:
    return TypedValue(text, None, "text")


# --------------------------------------------------------------------------- numbers

# The integer part either grouped in threes or plain, then the fraction after the
# decimal separator; one pattern per separator convention.
def _number_pattern(group: str, decimal: str) -> re.Pattern[str]:
    g, d = re.escape(group), re.escape(decimal)
    return re.compile(rf"(?P<int>\d{{1,3}}(?:{g}\d{{3}})+|\d+)(?:{d}(?P<frac>\d+))?")


_EN_NUMBER = _number_pattern(",", ".")
_DE_NUMBER = _number_pattern(".", ",")


@dataclass(frozen=True)
class _Number:
    digits: str  # integer digits, separators removed
    frac: str  # fraction digits ("" for none)
    grouped: bool
    european: bool


def _read_core(core: str, conventions: ValueConventions) -> _Number | None:
    """Read an unsigned number written with English or European separators."""
    en = _EN_NUMBER.fullmatch(core)
    de = _DE_NUMBER.fullmatch(core)
    if en and de and en.group("int") != de.group("int"):
        # "1,234" or "1.234": the same characters, two values.
        use_de = bool(conventions.decimal_comma)
    elif en and de:
        use_de = False  # plain digits: both readings agree
    elif en or de:
        use_de = de is not None
    else:
        return None
    m = de if use_de else en
    assert m is not None
    int_part = m.group("int")
    sep = "." if use_de else ","
    return _Number(
        digits=int_part.replace(sep, ""),
        frac=m.group("frac") or "",
        grouped=sep in int_part,
        european=use_de,
    )


@dataclass(frozen=True)
class _NumberShape:
    """The dress around a number: sign style, currency symbol, percent sign."""

    negative: bool = False
    parens: bool = False
    symbol: str = ""
    symbol_prefix: bool = True
    symbol_space: bool = False
    percent: bool = False
    percent_space: bool = False
    plus: bool = False  # an explicit "+" (a change: +8.8%)


def _strip_dress(s: str) -> tuple[str, _NumberShape] | None:
    """Split "($ 1,234.50)" into the bare number and its dress, or None if odd."""
    negative = parens = plus = False
    if len(s) > 2 and s[0] == "(" and s[-1] == ")":
        s, negative, parens = s[1:-1], True, True
    elif s.startswith("-"):
        s, negative = s[1:], True
    elif s.startswith("+"):
        s, plus = s[1:], True
    symbol, prefix, sym_space = "", True, False
    percent, pct_space = False, False
    if s and s[0] in _CURRENCY_SYMBOLS:
        symbol, s = s[0], s[1:]
        if s.startswith(" "):
            sym_space, s = True, s[1:]
    elif s and s[-1] in _CURRENCY_SYMBOLS:
        symbol, prefix, s = s[-1], False, s[:-1]
        if s.endswith(" "):
            sym_space, s = True, s[:-1]
    elif s.endswith("%"):
        percent, s = True, s[:-1]
        if s.endswith(" "):
            pct_space, s = True, s[:-1]
    if not s or not s[0].isdigit() or not s[-1].isdigit():
        return None  # "$-5", "- 5", "5 %%" ...
    return s, _NumberShape(negative, parens, symbol, prefix, sym_space, percent, pct_space, plus)


def _quote(literal: str) -> str:
    return '"' + literal + '"' if literal else ""


def _number_format(num: _Number, shape: _NumberShape) -> str:
    core = "#,##0" if num.grouped else "0"
    if num.frac:
        core += "." + "0" * len(num.frac)
    if shape.percent:
        core += _quote(" ") + "%" if shape.percent_space else "%"
    if shape.symbol:
        space = " " if shape.symbol_space else ""
        if shape.symbol_prefix:
            core = _quote(shape.symbol + space) + core
        else:
            core = core + _quote(space + shape.symbol)
    fmt = f"{core};({core})" if shape.parens else f'"+"{core};-{core}' if shape.plus else core
    return (_LOCALE_DE if num.european else "") + fmt


def _parse_number(s: str, conventions: ValueConventions) -> TypedValue | None:
    dressed = _strip_dress(s)
    if dressed is None:
        return None
    core, shape = dressed
    num = _read_core(core, conventions)
    if num is None:
        return None
    if len(num.digits) > 1 and num.digits.startswith("0"):
        return None  # a code such as 007 or 01234
    if len(num.digits.lstrip("0") + num.frac) > _MAX_DIGITS:
        return None
    amount = Decimal(num.digits + ("." + num.frac if num.frac else ""))
    if amount == 0 and shape.negative:
        return None  # "-0" and "(0)" are not something a number format reproduces
    if shape.negative:
        amount = -amount
    if shape.percent:
        kind = "percent"
        value: int | float = float(amount / 100)
    else:
        kind = "currency" if shape.symbol else ("decimal" if num.frac else "int")
        value = float(amount) if num.frac else int(amount)
    return TypedValue(value, _number_format(num, shape), kind)


# --------------------------------------------------------------------------- dates

_SEP_ESCAPE = {"/": "\\/", ".": "\\.", "-": "-"}
_NUMERIC_DMY = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})")
_NUMERIC_YMD = re.compile(r"(\d{4})([/.-])(\d{1,2})\2(\d{1,2})")
_NAMED_DMY = re.compile(r"(\d{1,2})([ -])([A-Z][a-z]+)\2(\d{4}|\d{2})")  # 15 Mar 2024, 15-Mar-24
_NAMED_MDY = re.compile(r"([A-Z][a-z]+) (\d{1,2}), (\d{4})")  # March 15, 2024
_NAMED_MY = re.compile(r"([A-Z][a-z]+) (\d{4})")  # March 2024


def _year(text: str) -> int:
    if len(text) == 4:
        return int(text)
    # Two-digit years the way spreadsheets read them: 00-29 -> 20xx, 30-99 -> 19xx.
    y = int(text)
    return 2000 + y if y < 30 else 1900 + y


def _num_token(text: str, letter: str, sibling: str = "") -> str:
    """"d" or "dd" (likewise "m"/"mm"): padded when the page pads this number or,
    for a two-digit one, the day/month beside it (2024-11-15 is yyyy-mm-dd)."""
    padded = text.startswith("0") or (len(text) == 2 and len(sibling) == 2)
    return letter * 2 if padded else letter


def _month(name: str) -> tuple[int, str] | None:
    if name in _MONTH_BY_ABBR:
        return _MONTH_BY_ABBR[name], "mmm"
    if name in _MONTH_BY_NAME:
        return _MONTH_BY_NAME[name], "mmmm"
    return None


def _make_date(y: int, m: int, d: int) -> _dt.date | None:
    try:
        date = _dt.date(y, m, d)
    except ValueError:
        return None
    # Spreadsheet serial dates start in 1900 (with Lotus' phantom 29 Feb 1900).
    return date if date >= _dt.date(1900, 3, 1) else None


def _parse_date(s: str, conventions: ValueConventions) -> TypedValue | None:
    if m := _NUMERIC_YMD.fullmatch(s):
        y, sep, mo, d = m.groups()
        date = _make_date(int(y), int(mo), int(d))
        s_ = _SEP_ESCAPE[sep]
        fmt = f"yyyy{s_}{_num_token(mo, 'm', d)}{s_}{_num_token(d, 'd', mo)}"
        return TypedValue(date, fmt, "date") if date else None
    if m := _NUMERIC_DMY.fullmatch(s):
        a, sep, b, y = m.groups()
        ia, ib = int(a), int(b)
        if ia == ib:
            day_first = True  # 05/05/2024 reads the same either way
        elif ia > 12 >= ib:
            day_first = True
        elif ib > 12 >= ia:
            day_first = False
        elif sep == ".":
            day_first = True  # dotted dates are day-first wherever they are used
        elif conventions.day_first is not None:
            day_first = conventions.day_first
        else:
            return None  # 03/04/2024: March or April?
        d, mo = (a, b) if day_first else (b, a)
        date = _make_date(_year(y), int(mo), int(d))
        s_ = _SEP_ESCAPE[sep]
        dd, mm = _num_token(d, "d", mo), _num_token(mo, "m", d)
        yy = "yyyy" if len(y) == 4 else "yy"
        fmt = f"{dd}{s_}{mm}{s_}{yy}" if day_first else f"{mm}{s_}{dd}{s_}{yy}"
        return TypedValue(date, fmt, "date") if date else None
    if m := _NAMED_DMY.fullmatch(s):
        d, sep, name, y = m.groups()
        month = _month(name)
        date = month and _make_date(_year(y), month[0], int(d))
        if not date:
            return None
        yy = "yyyy" if len(y) == 4 else "yy"
        fmt = f"{_LOCALE_EN}{_num_token(d, 'd')}{sep}{month[1]}{sep}{yy}"
        return TypedValue(date, fmt, "date")
    if m := _NAMED_MDY.fullmatch(s):
        name, d, y = m.groups()
        month = _month(name)
        date = month and _make_date(int(y), month[0], int(d))
        if not date:
            return None
        return TypedValue(date, f"{_LOCALE_EN}{month[1]} {_num_token(d, 'd')}, yyyy", "date")
    if m := _NAMED_MY.fullmatch(s):
        name, y = m.groups()
        month = _month(name)
        date = month and _make_date(int(y), month[0], 1)
        if not date:
            return None
        return TypedValue(date, f"{_LOCALE_EN}{month[1]} yyyy", "date")
    return None


# --------------------------------------------------------------------------- public


def parse_value(text: str, conventions: ValueConventions | None = None) -> TypedValue:
    """The typed value of a cell's text, or the text itself when it is not safely a value.

    Leading and trailing spaces are ignored. Formula-like text (``=SUM(A1:A3)``) and
    anything with a line break is text; a number with its sign (``+8.8%``) is a number.
    """
    conventions = conventions or ValueConventions()
    s = text.strip()
    if not s or "\n" in s or s[0] in "=@":
        return _text(text)
    typed = _parse_number(s, conventions) or _parse_date(s, conventions)
    if typed is None:
        return _text(text)
    # The contract of this module: the format displays exactly the page's text.
    if render(typed.value, typed.number_format) != s:
        return _text(text)
    return typed


_EN_EVIDENCE = re.compile(r"\d\.\d{1,2}(?!\d)|\d\.\d{4,}|\d,\d{3}\.\d|\d,\d{3},\d{3}")
_DE_EVIDENCE = re.compile(r"\d,\d{1,2}(?!\d)|\d,\d{4,}|\d\.\d{3},\d|\d\.\d{3}\.\d{3}")


def infer_conventions(texts: Iterable[str]) -> ValueConventions:
    """The number and date conventions a set of cells (a table) settles unambiguously.

    A convention stays None when no cell decides it or cells contradict each other.
    """
    en = de = day_first = month_first = 0
    for text in texts:
        s = text.strip()
        if _NUMERIC_DMY.fullmatch(s):
            m = _NUMERIC_DMY.fullmatch(s)
            assert m is not None
            a, sep, b, _ = m.groups()
            if sep != "." and int(a) != int(b):
                day_first += int(a) > 12 >= int(b)
                month_first += int(b) > 12 >= int(a)
            continue
        if _strip_dress(s) is None:
            continue
        en += bool(_EN_EVIDENCE.search(s))
        de += bool(_DE_EVIDENCE.search(s))

    def decide(yes: int, no: int) -> bool | None:
        if yes and not no:
            return True
        if no and not yes:
            return False
        return None

    return ValueConventions(decimal_comma=decide(de, en), day_first=decide(day_first, month_first))


# --------------------------------------------------------------------------- render

_FORMAT_TOKEN = re.compile(
    r'"(?P<quoted>[^"]*)"|\\(?P<escaped>.)|(?P<locale>\[\$-[0-9A-Fa-f]+\])'
    r"|(?P<date>yyyy|yy|mmmm|mmm|mm|m|dd|d)|(?P<number>[#0,.]+)|(?P<percent>%)|(?P<literal>[ $\-/():])"
)


def _split_sections(fmt: str) -> list[str]:
    sections, current, quoted = [], [], False
    for ch in fmt:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            sections.append("".join(current))
            current = []
        else:
            current.append(ch)
    sections.append("".join(current))
    return sections


def _tokens(section: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(section):
        m = _FORMAT_TOKEN.match(section, pos)
        if not m:
            raise ValueError(f"unsupported number format {section!r} at {section[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _render_number(amount: Decimal, pattern: str, european: bool) -> str:
    int_pattern, _, frac_pattern = pattern.partition(".")
    grouped = "," in int_pattern
    min_int = int_pattern.replace(",", "").count("0")
    places = len(frac_pattern)
    q = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    int_digits, _, frac_digits = f"{q:f}".partition(".")
    if int_digits == "0" and min_int == 0:
        int_digits = ""
    int_digits = int_digits.rjust(min_int, "0")
    group_sep, dec_sep = (".", ",") if european else (",", ".")
    if grouped:
        groups = []
        while len(int_digits) > 3:
            groups.insert(0, int_digits[-3:])
            int_digits = int_digits[:-3]
        int_digits = group_sep.join([int_digits, *groups]) if int_digits else group_sep.join(groups)
    return int_digits + (dec_sep + frac_digits if places else "")


def render(value: float | _dt.date | str, number_format: str | None) -> str:
    """How a spreadsheet displays ``value`` under ``number_format``.

    Covers the formats ``parse_value`` produces (and "General" for text and plain
    numbers); raises ValueError for anything else rather than guessing.
    """
    if isinstance(value, str):
        return value
    if not number_format or number_format == "General":
        if isinstance(value, _dt.date):
            raise ValueError("a date needs a date format")
        return repr(value) if isinstance(value, float) else str(value)
    sections = _split_sections(number_format)
    if len(sections) > 2:
        raise ValueError(f"unsupported number format {number_format!r}")
    european = number_format.startswith(_LOCALE_DE)
    if isinstance(value, _dt.date):
        return _render_date(value, _tokens(sections[0]))
    section = sections[0]
    prefix_minus = ""
    if value < 0:
        if len(sections) == 2:
            section = sections[1]
        else:
            prefix_minus = "-"
    amount = abs(Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value))
    tokens = _tokens(section)
    if any(kind == "percent" for kind, _ in tokens):
        amount *= 100
    out = []
    for kind, tok in tokens:
        if kind in ("quoted", "escaped", "literal"):
            out.append(tok)
        elif kind == "percent":
            out.append("%")
        elif kind == "number":
            out.append(_render_number(amount, tok, european))
        elif kind == "date":
            raise ValueError(f"date token {tok!r} in a number format {number_format!r}")
    return prefix_minus + "".join(out)


def _render_date(date: _dt.date, tokens: list[tuple[str, str]]) -> str:
    out = []
    for kind, tok in tokens:
        if kind == "locale":
            if tok.upper() != _LOCALE_EN.upper():
                raise ValueError(f"unsupported date locale {tok}")
        elif kind in ("quoted", "escaped", "literal"):
            out.append(tok)
        elif kind == "number" and tok in (",", "."):
            out.append(tok)  # a comma or dot between date parts is a literal
        elif kind == "date":
            out.append({
                "yyyy": f"{date.year:04d}",
                "yy": f"{date.year % 100:02d}",
                "mmmm": MONTHS[date.month - 1],
                "mmm": _MONTH_ABBR[date.month - 1],
                "mm": f"{date.month:02d}",
                "m": str(date.month),
                "dd": f"{date.day:02d}",
                "d": str(date.day),
            }[tok])
        else:
            raise ValueError(f"unsupported token {tok!r} in a date format")
    return "".join(out)
