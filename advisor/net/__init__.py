"""Network plumbing shared by the sources and the probes: DNS, TCP, TLS, budgets."""
