"""Parse/render pairs, one module per file format.

Each module keeps the mapping tables between our vocabulary (``advisor.models``)
and its format's vocabulary next to the code that reads or writes it. Parsers
take untrusted bytes and raise a one-line :class:`~advisor.errors.AdvisorError`
subclass for a file they cannot read at all; anything merely unknown inside a
readable file is skipped and recorded, never fatal.
"""
