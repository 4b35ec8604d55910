"""The shipped recommendation rules (TOML files beside this one), as package data."""
