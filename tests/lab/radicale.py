"""A real CalDAV/CardDAV server for the lab: Radicale (PyPI ``radicale``), over HTTPS
with a certificate from the lab CA, password sign-in from an htpasswd file.

    dav = lab.serve(Radicale(lab.host("dav.example.test"), lab.ca.issue("dav.example.test")))
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from .ca import CertFiles
from .errors import LabError, Unavailable, check_bindable

INSTALL_HINT = "radicale is not installed: pip install -e '.[test]'"
_START_TIMEOUT = 20.0  # a busy 2-core machine importing Radicale


@dataclass
class Radicale:
    ip: str
    cert: CertFiles
    users: dict[str, str] = field(default_factory=lambda: {"jane": "secret"})
    port: int = 443
    workdir: Path | None = field(default=None, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> Self:
        if importlib.util.find_spec("radicale") is None:
            raise Unavailable(INSTALL_HINT)
        check_bindable(self.ip, [self.port], "radicale")
        self.workdir = Path(tempfile.mkdtemp(prefix="lab-radicale-"))
        users = self.workdir / "users"
        users.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
        args = [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"{self.ip}:{self.port}",
            "--server-ssl",
            "True",
            "--server-certificate",
            str(self.cert.chain_pem),
            "--server-key",
            str(self.cert.key_pem),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--storage-filesystem-folder",
            str(self.workdir / "collections"),
        ]
        log = (self.workdir / "radicale.log").open("wb")
        env = {"HOME": str(self.workdir), "PATH": "/usr/bin:/bin"}
        with log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate and wait; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def log_tail(self, lines: int = 30) -> str:
        if self.workdir is None:
            return "(no radicale log)"
        with contextlib.suppress(OSError):
            text = (self.workdir / "radicale.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no radicale log)"

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise LabError(
                    f"radicale exited with status {self._proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError), socket.create_connection((self.ip, self.port), 1):
                return
            if time.monotonic() > deadline:
                raise LabError(f"radicale did not listen within {_START_TIMEOUT:g} s")
            time.sleep(0.05)
