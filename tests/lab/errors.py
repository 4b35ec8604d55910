"""Errors shared by the lab servers."""

from __future__ import annotations

import errno
import socket

__all__ = ["LabError", "Unavailable", "bind_failure", "check_bindable"]


class LabError(RuntimeError):
    """A lab server failed in a way that is a bug (bad config, crash...)."""


class Unavailable(LabError):
    """This machine cannot run the server (binary missing, port < 1024 without root,
    port already taken...).  Tests skip on it locally and fail on CI (see
    ``tests.lab.support.require``)."""


def check_bindable(ip: str, ports: list[int], what: str) -> None:
    """Raise ``Unavailable`` unless every TCP ``port`` can be bound on ``ip`` right now."""
    for port in ports:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((ip, port))
        except OSError as exc:
            raise Unavailable(bind_failure(exc, ip, port, what)) from exc
        finally:
            probe.close()


def bind_failure(exc: OSError, ip: str, port: int, what: str) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"{what}: cannot bind {ip}:{port} ({exc.strerror}); ports below 1024 need root "
            "(or a low net.ipv4.ip_unprivileged_port_start)"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{what}: {ip}:{port} is already in use (by another lab server on that "
            "address, or by a system service listening on 0.0.0.0 such as a packaged "
            "dovecot or exim4: stop it)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{what}: address {ip} is not available on this machine"
    return f"{what}: cannot bind {ip}:{port}: {exc}"
