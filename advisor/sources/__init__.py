"""Discovery sources: each turns a domain into named servers or provider facts.

A source never connects to a mail server; the engine probes whatever the
sources name. Sources take their I/O dependencies (the DNS client) as
parameters and never raise for DNS outcomes.
"""
