"""Recommendation rules kept as data: the condition language (``expr``) and the rule loader."""
