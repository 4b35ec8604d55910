"""Real-client acceptance: a headless Thunderbird reads what advisor exports."""
