"""The Thunderbird harness itself, without Thunderbird: skip or fail, framing, clean-up.

A fake ``thunderbird`` (a shell script) and a fake Marionette server on
loopback stand in for the real ones, so these run everywhere.
"""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.thunderbird import client
from tests.thunderbird.client import INSTALL_HINT, Thunderbird, session_members
from tests.thunderbird.marionette import Marionette, MarionetteError
from tests.thunderbird.support import started

Handler = Callable[[str, dict[str, Any]], tuple[Any, Any]]  # -> (error, result)


def _frame(message: Any) -> bytes:
    data = json.dumps(message).encode()
    return str(len(data)).encode() + b":" + data


def _ok(name: str, params: dict[str, Any]) -> tuple[Any, Any]:
    return None, {"value": {"name": name, "params": params}}


class FakeMarionette:
    """Loopback server speaking Marionette's framing; one client at a time."""

    def __init__(self, handler: Handler = _ok, chunk: int = 7) -> None:
        self.handler = handler
        self.chunk = chunk  # send replies in small pieces: the client must reassemble
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.commands: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, conn: socket.socket, message: Any) -> None:
        data = _frame(message)
        for i in range(0, len(data), self.chunk):
            conn.sendall(data[i : i + self.chunk])

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            self._send(conn, {"applicationType": "gecko", "marionetteProtocol": 3})
            buffer = b""
            while True:
                while b":" not in buffer:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buffer += data
                prefix, _, buffer = buffer.partition(b":")
                while len(buffer) < int(prefix):
                    buffer += conn.recv(4096)
                body, buffer = buffer[: int(prefix)], buffer[int(prefix) :]
                _, msg_id, name, params = json.loads(body)
                self.commands.append(name)
                error, result = self.handler(name, params)
                self._send(conn, [1, msg_id, error, result])

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_server() -> Iterator[FakeMarionette]:
    server = FakeMarionette()
    yield server
    server.close()


def test_framing_with_non_ascii_text_and_split_packets(fake_server: FakeMarionette) -> None:
    with Marionette(fake_server.port) as marionette:
        assert marionette.hello["marionetteProtocol"] == 3
        # Lengths count bytes, not characters: "é" and "📬" are 2 and 4 bytes in UTF-8.
        reply = marionette.execute("return arguments[0];", "Zoë 📬")
        assert reply == {
            "name": "WebDriver:ExecuteScript",
            "params": {"script": "return arguments[0];", "args": ["Zoë 📬"]},
        }


def test_error_reply_becomes_marionette_error() -> None:
    def fail(name: str, params: dict[str, Any]) -> tuple[Any, Any]:
        return {"error": "javascript error", "message": "boom", "stacktrace": "at x:1"}, None

    server = FakeMarionette(fail)
    try:
        with Marionette(server.port) as marionette, pytest.raises(MarionetteError) as info:
            marionette.execute("throw new Error('boom')")
        assert (info.value.error, info.value.message) == ("javascript error", "boom")
    finally:
        server.close()


def test_missing_thunderbird_skips_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(client, "thunderbird_binary", lambda: None)
    with pytest.raises(pytest.skip.Exception) as info:
        started(Thunderbird(tmp_path))
    assert str(info.value.msg) == INSTALL_HINT
    assert "apt-get install thunderbird" in INSTALL_HINT


def test_missing_thunderbird_fails_on_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(client, "thunderbird_binary", lambda: None)
    with pytest.raises(pytest.fail.Exception) as info:
        started(Thunderbird(tmp_path))
    assert "required on CI" in str(info.value.msg)
    assert INSTALL_HINT in str(info.value.msg)


def _fake_binary(tmp_path: Path, body: str) -> str:
    script = tmp_path / "thunderbird"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_thunderbird_that_exits_fails_on_ci_with_its_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = _fake_binary(tmp_path, "echo 'Error: no DISPLAY and no --headless' >&2\nexit 3\n")
    monkeypatch.setattr(client, "thunderbird_binary", lambda: binary)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        started(Thunderbird(tmp_path / "tb"))
    message = str(info.value.msg)
    assert "did not start: it exited with status 3" in message
    assert "no DISPLAY" in message  # the log tail says why


def test_stop_kills_every_process_of_the_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_server: FakeMarionette
) -> None:
    # Like Thunderbird: a parent that forks children, then reports its Marionette port.
    binary = _fake_binary(
        tmp_path,
        'while [ "$1" != "-profile" ]; do shift; done\n'
        "sleep 300 &\nsleep 300 &\n"
        'echo "$FAKE_MARIONETTE_PORT" > "$2/MarionetteActivePort"\n'
        "wait\n",
    )
    monkeypatch.setattr(client, "thunderbird_binary", lambda: binary)
    monkeypatch.setenv("FAKE_MARIONETTE_PORT", str(fake_server.port))
    thunderbird = Thunderbird(tmp_path / "tb").start()
    pid = thunderbird.pid
    assert pid is not None
    assert len(session_members(pid)) >= 3  # the script and two sleeps
    assert fake_server.commands[:3] == [
        "WebDriver:NewSession",
        "WebDriver:SetTimeouts",
        "Marionette:SetContext",
    ]
    thunderbird.stop()
    assert session_members(pid) == []
    assert thunderbird.pid is None
    thunderbird.stop()  # idempotent
