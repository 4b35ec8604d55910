"""Mail Setup Advisor: discover, recommend and configure how a mailbox is reached."""

__version__ = "0.1.0"
