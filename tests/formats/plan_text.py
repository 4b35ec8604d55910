"""Hypothesis text for plan values: anything a plan accepts (advisor.formats.plan).

Plans refuse control, bidi and surrogate characters (tests/test_report_trust.py
proves it); the writers' own escaping is tested with everything else. A
person's name may also hold line breaks (``lines``): every writer folds them.
"""

from __future__ import annotations

from hypothesis import strategies as st

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
LINE_BREAKS = "\t\n\r\u2028\u2029"


def plan_text(max_size: int, *, lines: bool = False) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(
            exclude_categories=("Cc", "Cs"),
            exclude_characters=BIDI + ("" if lines else "\u2028\u2029"),
            include_characters=LINE_BREAKS if lines else None,
        ),
        max_size=max_size,
    )
