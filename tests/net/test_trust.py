"""The shared TLS client context: loaded once per CA file, reloaded when it changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from advisor.errors import AdvisorError
from advisor.net.trust import client_context
from tests.lab.ca import LabCA


def test_one_context_per_ca_file_until_the_file_changes(tmp_path: Path) -> None:
    first, second = LabCA(tmp_path / "a"), LabCA(tmp_path / "b")
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(first.ca_pem.read_bytes())
    context = client_context(bundle)
    assert client_context(bundle) is context  # the system store is loaded once
    assert client_context(None) is client_context(None)
    assert client_context(None) is not context
    names = {c["serialNumber"] for c in context.get_ca_certs()}

    # The file is replaced by another CA's: the next call trusts what it now holds.
    bundle.write_bytes(second.ca_pem.read_bytes() + b"\n")
    os.utime(bundle, ns=(1, 1))
    renewed = client_context(bundle)
    assert renewed is not context
    assert {c["serialNumber"] for c in renewed.get_ca_certs()} != names


def test_bad_ca_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(AdvisorError, match="no such file"):
        client_context(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(AdvisorError, match="not a PEM file of certificates"):
        client_context(junk)
