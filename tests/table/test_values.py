"""parse_value: typed values whose number format displays the page's text, text otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from table.values import ValueConventions, infer_conventions, parse_value, render

TYPED = [
    # text, kind, value, number format
    ("0", "int", 0, "0"),
    ("1234", "int", 1234, "0"),
    ("-17", "int", -17, "0"),
    ("1,234", "int", 1234, "#,##0"),
    ("1,234,567", "int", 1234567, "#,##0"),
    ("(1,234)", "int", -1234, "#,##0;(#,##0)"),
    ("0.5", "decimal", 0.5, "0.0"),
    ("3.10", "decimal", 3.1, "0.00"),
    ("1,234.56", "decimal", 1234.56, "#,##0.00"),
    ("-1,234.56", "decimal", -1234.56, "#,##0.00"),
    ("(1,234.56)", "decimal", -1234.56, "#,##0.00;(#,##0.00)"),
    ("1.234", "decimal", 1.234, "0.000"),  # English reading by default
    ("1.234,56", "decimal", 1234.56, "[$-407]#,##0.00"),
    ("1,5", "decimal", 1.5, "[$-407]0.0"),
    ("1.234.567", "int", 1234567, "[$-407]#,##0"),
    ("12%", "percent", 0.12, "0%"),
    ("12.5%", "percent", 0.125, "0.0%"),
    ("12.5 %", "percent", 0.125, '0.0" "%'),
    ("-3%", "percent", -0.03, "0%"),
    ("(5%)", "percent", -0.05, "0%;(0%)"),
    ("12,5 %", "percent", 0.125, '[$-407]0.0" "%'),
    ("$1,234.56", "currency", 1234.56, '"$"#,##0.00'),
    ("-$1,234.56", "currency", -1234.56, '"$"#,##0.00'),
    ("($1,234.56)", "currency", -1234.56, '"$"#,##0.00;("$"#,##0.00)'),
    ("$ 12", "currency", 12, '"$ "0'),
    ("€5", "currency", 5, '"€"0'),
    ("£3.50", "currency", 3.5, '"£"0.00'),
    ("¥1,000", "currency", 1000, '"¥"#,##0'),
    ("1,234.56 €", "currency", 1234.56, '#,##0.00" €"'),
    ("1.234,56 €", "currency", 1234.56, '[$-407]#,##0.00" €"'),
    ("12,50€", "currency", 12.5, '[$-407]0.00"€"'),
    ("2024-03-15", "date", dt.date(2024, 3, 15), "yyyy-mm-dd"),
    ("2024/3/5", "date", dt.date(2024, 3, 5), "yyyy\\/m\\/d"),
    ("15/03/2024", "date", dt.date(2024, 3, 15), "dd\\/mm\\/yyyy"),
    ("3/15/2024", "date", dt.date(2024, 3, 15), "m\\/d\\/yyyy"),
    ("05/05/2024", "date", dt.date(2024, 5, 5), "dd\\/mm\\/yyyy"),
    ("15.03.2024", "date", dt.date(2024, 3, 15), "dd\\.mm\\.yyyy"),
    ("03.04.2024", "date", dt.date(2024, 4, 3), "dd\\.mm\\.yyyy"),  # dots: day first
    ("15-03-24", "date", dt.date(2024, 3, 15), "dd-mm-yy"),
    ("15 Mar 2024", "date", dt.date(2024, 3, 15), "[$-409]d mmm yyyy"),
    ("05 Mar 2024", "date", dt.date(2024, 3, 5), "[$-409]dd mmm yyyy"),
    ("15 March 2024", "date", dt.date(2024, 3, 15), "[$-409]d mmmm yyyy"),
    ("15-Mar-24", "date", dt.date(2024, 3, 15), "[$-409]d-mmm-yy"),
    ("March 15, 2024", "date", dt.date(2024, 3, 15), "[$-409]mmmm d, yyyy"),
    ("Mar 5, 2024", "date", dt.date(2024, 3, 5), "[$-409]mmm d, yyyy"),
    ("March 2024", "date", dt.date(2024, 3, 1), "[$-409]mmmm yyyy"),
    # A signed change is a number whose format shows the sign.
    ("+5", "int", 5, '"+"0;-0'),
    ("+8.8%", "percent", 0.088, '"+"0.0%;-0.0%'),
]

TEXT = [
    "", "  ", "007", "01234", "-0", "(0)", "A-123", "INV-0042", "12-34", "555-1234", "1 234",
    "12345678901234567",  # more digits than a float keeps
    "03/04/2024",  # 3 April or 4 March?
    "12/11/10", "31/02/2024", "2024-13-01", "15 MAR 2024", "Sept 5, 2024", "1e5", "$-5", "- 5",
    "5-", "+-5", "++5", "+ 5", "+(5)", "1,23,456", "12.", ".5", "5%%", "$5%", "=SUM(A1:A3)", "=E4*C4", "@SUM(A1)",
    "#N/A", "12\n34", "1/2", "n/a", "TBD", "1,234.5.6", "15 Mar 1850",
]


@pytest.mark.parametrize("text,kind,value,fmt", TYPED)
def test_typed_values_display_the_page_text(text, kind, value, fmt):
    typed = parse_value(text)
    assert (typed.kind, typed.number_format) == (kind, fmt)
    assert typed.value == value and type(typed.value) is type(value)
    assert render(typed.value, typed.number_format) == text


@pytest.mark.parametrize("text", TEXT)
def test_codes_ambiguities_and_formulas_stay_text(text):
    typed = parse_value(text)
    assert typed.kind == "text" and typed.value == text and typed.number_format is None


def test_surrounding_spaces_are_ignored():
    assert parse_value("  1,234 ").value == 1234


def test_conventions_decide_ambiguous_texts():
    european = ValueConventions(decimal_comma=True, day_first=True)
    assert parse_value("1,234", european).value == pytest.approx(1.234)
    assert parse_value("1.234", european).value == 1234
    assert parse_value("03/04/2024", european).value == dt.date(2024, 4, 3)
    us = ValueConventions(decimal_comma=False, day_first=False)
    assert parse_value("03/04/2024", us).value == dt.date(2024, 3, 4)
    assert parse_value("1,234", us).value == 1234


def test_infer_conventions_from_unambiguous_cells():
    assert infer_conventions(["1.234,56", "1,234", "15/03/2024", "03/04/2024"]) == \
        ValueConventions(decimal_comma=True, day_first=True)
    assert infer_conventions(["1,234.56", "0.5", "3/15/2024"]) == \
        ValueConventions(decimal_comma=False, day_first=False)
    # Nothing decides, or the cells contradict each other: no convention.
    assert infer_conventions(["1,234", "03/04/2024", "total"]) == ValueConventions()
    assert infer_conventions(["1.5", "1,5", "15/03/2024", "3/15/2024"]) == ValueConventions()


def test_render_refuses_formats_it_does_not_know():
    with pytest.raises(ValueError):
        render(1.5, "0.0E+00")
    with pytest.raises(ValueError):
        render(dt.date(2024, 1, 1), "[$-407]d mmm yyyy")


# --------------------------------------------------------------------------- properties


def _group(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=10**12),
    places=st.integers(min_value=0, max_value=3),
    grouped=st.booleans(),
    negative=st.sampled_from(["", "-", "()"]),
    dress=st.sampled_from(["", "$", "€ suffix", "%"]),
    european=st.booleans(),
)
def test_numbers_round_trip(n, places, grouped, negative, dress, european):
    int_part, frac = divmod(n, 10**places) if places else (n, 0)
    group_sep, dec_sep = (".", ",") if european else (",", ".")
    body = _group(int_part, group_sep) if grouped else str(int_part)
    if places:
        body += dec_sep + str(frac).rjust(places, "0")
    if dress == "$":
        body = "$" + body
    elif dress == "€ suffix":
        body += " €"
    elif dress == "%":
        body += "%"
    text = {"": body, "-": "-" + body, "()": f"({body})"}[negative]
    conventions = ValueConventions(decimal_comma=european)
    typed = parse_value(text, conventions)
    if n == 0 and negative:
        assert typed.kind == "text"
        return
    assert typed.kind != "text", text
    assert render(typed.value, typed.number_format) == text
    expected = n / 10**places * (-1 if negative else 1) / (100 if dress == "%" else 1)
    assert typed.value == pytest.approx(expected, rel=1e-12, abs=1e-15)


DATE_STYLES = [
    ("%Y-%m-%d", True), ("%d/%m/%Y", None), ("%m/%d/%Y", None), ("%d.%m.%Y", True),
    ("%d %b %Y", True), ("%d-%b-%y", True), ("%B %d, %Y", True), ("%d %B %Y", True),
]


@settings(max_examples=300, deadline=None)
@given(date=st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2029, 12, 31)),
       style=st.sampled_from(DATE_STYLES))
def test_dates_round_trip_or_stay_text(date, style):
    fmt, unambiguous = style
    text = date.strftime(fmt)
    typed = parse_value(text)
    if unambiguous is None and date.day <= 12 and date.day != date.month:
        assert typed.kind == "text", text  # 03/04/2024 has two readings
        return
    assert typed.kind == "date" and typed.value == date, text
    assert render(typed.value, typed.number_format) == text
