"""A minimal Marionette client on the standard library, for loopback only.

Marionette is the remote protocol built into Gecko applications (Firefox,
Thunderbird); geckodriver speaks it. Wire format (remote/marionette/
``packets.sys.mjs`` and ``server.sys.mjs`` in mozilla-central):

* every packet is ``<byte length>:<JSON>``;
* on connect the server sends a hello, ``{"applicationType": "gecko",
  "marionetteProtocol": 3}``;
* a command is ``[0, id, "Domain:Name", {params}]``, its reply
  ``[1, id, error, result]`` where ``error`` is null or
  ``{"error", "message", "stacktrace"}``.

Only what the Thunderbird acceptance tests need: a session, the chrome
context, and running a script there (``WebDriver:ExecuteScript``).
"""

from __future__ import annotations

import json
import socket
from typing import Any, Self

__all__ = ["Marionette", "MarionetteError"]

# A JSON reply from a local Gecko arrives in milliseconds; 60 s covers a loaded
# 2-core CI machine and stays under pytest's 120 s per-test timeout.
READ_TIMEOUT_S = 60.0
# The length prefix of a packet: Marionette never sends anything near 10^12 bytes.
_MAX_PREFIX_DIGITS = 12


class MarionetteError(RuntimeError):
    """The server answered a command with an error (or broke the protocol)."""

    def __init__(self, error: str, message: str, stacktrace: str = "") -> None:
        super().__init__(f"{error}: {message}" + (f"\n{stacktrace}" if stacktrace else ""))
        self.error = error
        self.message = message
        self.stacktrace = stacktrace


class Marionette:
    """One connection to a Marionette server: ``with Marionette(port) as m: ...``."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = READ_TIMEOUT_S):
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self._next_id = 0
        try:
            self.hello: dict[str, Any] = self._read_packet()
            if not isinstance(self.hello, dict) or self.hello.get("applicationType") != "gecko":
                raise MarionetteError("protocol", f"not a Marionette hello: {self.hello!r}")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def set_timeout(self, seconds: float) -> None:
        """How long to wait for each reply from now on."""
        self._sock.settimeout(seconds)

    # --- commands -------------------------------------------------------------------

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Send one command and return its result; raise :class:`MarionetteError`."""
        self._next_id += 1
        msg_id = self._next_id
        self._send([0, msg_id, name, params or {}])
        while True:
            reply = self._read_packet()
            if not (isinstance(reply, list) and len(reply) == 4 and reply[0] == 1):
                raise MarionetteError("protocol", f"unexpected packet {reply!r}")
            if reply[1] == msg_id:
                break
        error, result = reply[2], reply[3]
        if error:
            raise MarionetteError(
                str(error.get("error", "unknown error")),
                str(error.get("message", "")),
                str(error.get("stacktrace", "")),
            )
        return result

    def new_chrome_session(self, script_timeout_ms: int) -> None:
        """A WebDriver session switched to the chrome (privileged) context.

        The chrome context needs the application started with
        ``--remote-allow-system-access`` (Thunderbird 153 refuses it otherwise).
        """
        self.command("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {}}})
        self.command("WebDriver:SetTimeouts", {"script": script_timeout_ms})
        self.command("Marionette:SetContext", {"value": "chrome"})

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: ``arguments`` holds ``args``); its return value.

        A returned Promise is awaited (WebDriver "execute script"), so an async
        job is written ``return (async () => { ... })();``.
        """
        result = self.command("WebDriver:ExecuteScript", {"script": script, "args": list(args)})
        return result.get("value") if isinstance(result, dict) else result

    # --- framing ----------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        data = json.dumps(message).encode()
        self._sock.sendall(str(len(data)).encode() + b":" + data)

    def _read_packet(self) -> Any:
        while b":" not in self._buffer:
            if len(self._buffer) > _MAX_PREFIX_DIGITS:
                raise MarionetteError("protocol", f"bad length prefix {self._buffer[:20]!r}")
            self._fill()
        prefix, _, rest = self._buffer.partition(b":")
        if not prefix.isdigit():
            raise MarionetteError("protocol", f"bad length prefix {prefix[:20]!r}")
        length = int(prefix)
        self._buffer = rest
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return json.loads(body)

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise MarionetteError("protocol", "the server closed the connection")
        self._buffer += chunk
