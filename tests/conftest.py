"""Shared pytest configuration: the ``--run-live`` switch and the lab fixtures.

Lab fixtures (see tests/lab/servers.py for the ``Lab`` API):

- ``lab_ca`` (session): the throw-away CA; ``lab_ca.ca_pem`` is the ``--ca-file``.
- ``dns_server`` (session): a bare shared ``DnsServer``; clean up the zones you add.
- ``lab`` (function) / ``module_lab`` (module): a ``Lab`` with a private DNS server;
  servers started through it are stopped at the end of the test / module.
- ``dovecot_server`` / ``smtp_server`` (module): Dovecot for imap.example.test,
  pop3.example.test and pop.example.test, and aiosmtpd (587, 465) for
  smtp.example.test, in ``module_lab`` with its default users.

A server that cannot run on this machine skips the test, or fails it when CI=true.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.ca import LabCA
from tests.lab.dns import DnsServer
from tests.lab.dovecot import Dovecot
from tests.lab.errors import Unavailable
from tests.lab.servers import Lab
from tests.lab.smtp import SmtpServer
from tests.lab.support import require


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-live",
        action="store_true",
        default=False,
        help="also run the tests marked `live` (they touch the public Internet)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-live"):
        return
    skip_live = pytest.mark.skip(reason="touches the public Internet: give --run-live")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip_live)


def _unavailable(exc: Unavailable) -> None:
    require(exc, "lab server cannot run here")


@pytest.fixture(scope="session")
def lab_ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    return LabCA(tmp_path_factory.mktemp("lab-ca"))


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def lab(lab_ca: LabCA) -> Iterator[Lab]:
    with Lab(lab_ca, on_unavailable=_unavailable) as world:
        yield world


@pytest.fixture(scope="module")
def module_lab(lab_ca: LabCA) -> Iterator[Lab]:
    with Lab(lab_ca, on_unavailable=_unavailable) as world:
        yield world


@pytest.fixture(scope="module")
def dovecot_server(module_lab: Lab) -> Dovecot:
    return module_lab.dovecot("imap.example.test", "pop3.example.test", "pop.example.test")


@pytest.fixture(scope="module")
def smtp_server(module_lab: Lab) -> SmtpServer:
    return module_lab.smtp("smtp.example.test")


@pytest.fixture
def exchangelib_installed() -> None:
    """Tests of the Exchange paths: skipped without the extra, failed on CI."""
    require(
        importlib.util.find_spec("exchangelib") is not None,
        "exchangelib is not installed: pip install -e '.[exchange]'",
    )


@pytest.fixture
def system_resolver_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The host names anything asks ``socket.getaddrinfo`` for during the test:
    our own DNS client must be the only one that resolves names."""
    asked: list[object] = []
    real = socket.getaddrinfo

    def spy(host: object, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    return asked


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English output unless they pass --lang: a developer's French
    locale must not change what the assertions see."""
    monkeypatch.setenv("LANGUAGE", "en")
