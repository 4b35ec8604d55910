"""A real, headless Thunderbird on a throw-away profile, and what it understood.

    with Thunderbird(tmp / "tb", user_js=text).start() as tb:
        seen = tb.profile_accounts()          # MailServices, as Thunderbird reports them
        configs = tb.read_isp_files({"example.test": path})   # its isp/ loader

How it works: Thunderbird is started with ``--headless --marionette
--remote-allow-system-access`` on a new profile folder and a new HOME, with
Marionette on port 0; the port it took is read from the profile's
``MarionetteActivePort`` file, and :mod:`tests.thunderbird.marionette` runs
scripts in the privileged ("chrome") context, where Thunderbird's own modules
are imported. Everything we set lives in ``prefs.js``; ``user.js`` is the file
under test, copied byte for byte.

No network beyond loopback: the profile starts offline (``offline.startup_state``
3) with DNS disabled, so nothing reaches the tests' made-up mail servers (not
even the POP3 poll at start-up, which ignores the offline state); Marionette
itself applies its "recommended preferences" that turn off updates, telemetry
and remote settings.

The process is started in a new session and the whole session is killed on
``stop()``, on success or failure (Thunderbird forks content processes).

A missing or non-starting Thunderbird raises :class:`tests.lab.errors.Unavailable`
(skip locally, fail on CI: ``tests.lab.support.require``); anything a script
reports is a :class:`~tests.thunderbird.marionette.MarionetteError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from tests.lab.errors import Unavailable
from tests.thunderbird.marionette import READ_TIMEOUT_S, Marionette, MarionetteError

__all__ = [
    "INSTALL_HINT",
    "Account",
    "Identity",
    "IspConfig",
    "Pop3Settings",
    "ProfileAccounts",
    "ServerView",
    "Thunderbird",
    "installation_dir",
    "lab_installation",
    "session_members",
    "thunderbird_binary",
]

INSTALL_HINT = (
    "Thunderbird is not installed: apt-get install thunderbird"
    " (scripts/test installs it when run as root)"
)

# From exec to a Marionette session: 2-3 s for Thunderbird 153 on a 2-core
# machine, up to ~10 s cold or loaded; 60 s means "it will not start" and leaves
# room for a script under pytest's 120 s per test.
START_TIMEOUT_S = 60.0
# A script waits at most this long for the main window's delayed start-up.
SCRIPT_TIMEOUT_MS = 30_000
# How often the profile folder is checked for the MarionetteActivePort file.
_POLL_S = 0.05
# How long stop() waits for the killed processes to disappear.
_KILL_WAIT_S = 10.0
# How long quit() lets Thunderbird shut down (and write prefs.js) before stop() kills.
_QUIT_WAIT_S = 60.0

# Our prefs, written to prefs.js before the first start (never to user.js).
_PREFS: Mapping[str, bool | int | str] = {
    # Port 0: the OS picks a free one; Marionette writes it to MarionetteActivePort.
    "marionette.port": 0,
    # OfflineStartup.sys.mjs: 3 = always start offline; Necko refuses connections.
    "offline.startup_state": 3,
    # No name resolution at all: nothing but loopback (Marionette binds 127.0.0.1).
    "network.dns.disabled": True,
    # A POP3 account with login_at_startup (as CreateInBackend also writes it) is
    # polled while the main window loads; its "server not found" error would be a
    # modal alert that nobody closes in headless mode, and start-up (and Marionette's
    # NewSession) would wait forever. nsMsgMailSession::AlertUser skips the dialog
    # under this pref.
    "mail.suppressAlertsForTests": True,
    "mailnews.start_page.enabled": False,
    "mail.shell.checkDefaultClient": False,
    "extensions.update.enabled": False,
    "app.update.auto": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
}


def thunderbird_binary() -> str | None:
    """The ``thunderbird`` command on PATH (what scripts/test installs), or None."""
    return shutil.which("thunderbird")


# --- what Thunderbird reports ---------------------------------------------------------


@dataclass(frozen=True)
class ServerView:
    """One server in Thunderbird's own vocabulary.

    ``socket_type`` is a constant name of ``Ci.nsMsgSocketType`` (``plain``,
    ``alwaysSTARTTLS``, ``SSL``), ``auth`` one of ``Ci.nsMsgAuthMethod``
    (``passwordCleartext``, ``OAuth2``...): names, not numbers, so that a test's
    expectations do not borrow the numbers from the code under test.
    """

    type: str
    hostname: str
    port: int
    socket_type: str
    auth: str
    username: str | None


@dataclass(frozen=True)
class Pop3Settings:
    leave_on_server: bool
    days_to_leave: int
    delete_by_age: bool
    download_on_biff: bool


@dataclass(frozen=True)
class IspConfig:
    """What the isp/ loader made of one ``<domain>.xml``, placeholders replaced.

    ``error`` is the loader's rejection (None when it accepted the file).
    ``incoming[0]``/``outgoing[0]`` are the servers Thunderbird proposes, the
    rest its alternatives; ``pop3`` holds the POP3 options of each incoming server.
    """

    domain: str
    error: str | None
    provider_id: str | None = None
    display_name: str | None = None
    domains: tuple[str, ...] = ()
    sub_source: str | None = None
    incoming: tuple[ServerView, ...] = ()
    pop3: tuple[Pop3Settings | None, ...] = ()
    outgoing: tuple[ServerView, ...] = ()


@dataclass(frozen=True)
class Identity:
    key: str
    email: str
    full_name: str
    valid: bool
    smtp_server_key: str
    # MailServices.outgoingServer.getServerByIdentity(identity).key
    sends_with: str | None


@dataclass(frozen=True)
class Account:
    key: str
    server_key: str
    server: ServerView
    pretty_name: str
    valid: bool
    pop3: Pop3Settings | None
    identities: tuple[Identity, ...]


@dataclass(frozen=True)
class ProfileAccounts:
    """MailServices.accounts and MailServices.outgoingServer, after start-up."""

    accounts: tuple[Account, ...]
    default_account: str | None
    local_folders: str | None  # key of the Local Folders server, if any
    outgoing: Mapping[str, ServerView]  # by key, in Thunderbird's order
    default_outgoing: str | None

    def mail_accounts(self) -> list[Account]:
        """The accounts other than Local Folders (server type ``none``)."""
        return [a for a in self.accounts if a.server.type != "none"]


def _server(raw: Mapping[str, Any]) -> ServerView:
    return ServerView(
        type=raw["type"],
        hostname=raw["hostname"],
        port=raw["port"],
        socket_type=raw["socketType"],
        auth=raw["auth"],
        username=raw["username"],
    )


def _pop3(raw: Mapping[str, Any] | None) -> Pop3Settings | None:
    if raw is None:
        return None
    return Pop3Settings(
        leave_on_server=raw["leaveOnServer"],
        days_to_leave=raw["daysToLeave"],
        delete_by_age=raw["deleteByAge"],
        download_on_biff=raw["downloadOnBiff"],
    )


# --- the scripts (run in the chrome context; ``arguments`` are the Python args) --------

# Names, not numbers, for socket types and authentication methods (see ServerView).
_JS_NAMES = r"""
const nameIn = (iface, value) =>
  Object.keys(iface).find(name => iface[name] === value) ?? `unknown(${value})`;
const socketName = value => nameIn(Ci.nsMsgSocketType, value);
const authName = value => nameIn(Ci.nsMsgAuthMethod, value);
"""

# For each {domain, email, realName}: FetchConfig.fromDisk(domain), which reads
# <CurProcD>/isp/<domain>.xml, then AccountConfig.replaceVariables as the account
# hub does (views/email.mjs #fillAccountConfig). fromDisk reads CurProcD before its
# first await, so CurProcD points at our folder only while the calls are made: the
# override is undone before any other code of this process can run.
_JS_READ_ISP = (
    _JS_NAMES
    + r"""
const [installDir, requests] = arguments;
const { FetchConfig } = ChromeUtils.importESModule(
  "resource:///modules/accountcreation/FetchConfig.sys.mjs");
const { AccountConfig } = ChromeUtils.importESModule(
  "resource:///modules/accountcreation/AccountConfig.sys.mjs");

const ours = Cc["@mozilla.org/file/local;1"].createInstance(Ci.nsIFile);
ours.initWithPath(installDir);
const real = Services.dirsvc.get("CurProcD", Ci.nsIFile);
const pending = [];
Services.dirsvc.undefine("CurProcD");
Services.dirsvc.set("CurProcD", ours);
try {
  for (const { domain } of requests) {
    pending.push(FetchConfig.fromDisk(domain, new AbortController().signal));
  }
} finally {
  Services.dirsvc.undefine("CurProcD");
  Services.dirsvc.set("CurProcD", real);
}

const view = s => ({
  type: s.type, hostname: s.hostname, port: s.port,
  socketType: socketName(s.socketType), auth: authName(s.auth), username: s.username,
});
const pop3 = s => s.type != "pop3" ? null : {
  leaveOnServer: s.leaveMessagesOnServer, daysToLeave: s.daysToLeaveMessagesOnServer,
  deleteByAge: s.deleteByAgeFromServer, downloadOnBiff: s.downloadOnBiff,
};
return (async () => {
  const settled = await Promise.allSettled(pending);
  return settled.map((result, i) => {
    const { domain, email, realName } = requests[i];
    if (result.status == "rejected") {
      return { domain, error: String(result.reason?.message ?? result.reason) };
    }
    const config = result.value;
    AccountConfig.replaceVariables(config, realName, email);
    const incoming = [config.incoming, ...config.incomingAlternatives];
    return {
      domain, error: null, id: config.id, displayName: config.displayName,
      domains: config.domains,
      subSource: config.subSource,
      incoming: incoming.map(view), pop3: incoming.map(pop3),
      outgoing: [config.outgoing, ...config.outgoingAlternatives].map(view),
    };
  });
})();
"""
)

# The account graph as the account manager loaded it, once the main window has
# finished its delayed start-up (messenger.js: verifyExistingAccounts() has run,
# so Local Folders exists if Thunderbird wanted one).
_JS_ACCOUNTS = (
    _JS_NAMES
    + r"""
const { MailServices } = ChromeUtils.importESModule(
  "resource:///modules/MailServices.sys.mjs");
return (async () => {
  let win;
  for (let tries = 0; !(win = Services.wm.getMostRecentWindow("mail:3pane")); tries++) {
    if (tries > 400) throw new Error("no mail:3pane window after 20 s");
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  await win.delayedStartupPromise;

  const outgoing = s => {
    const smtp = s.QueryInterface(Ci.nsISmtpServer);
    return {
      key: s.key, type: s.type, hostname: smtp.hostname, port: smtp.port,
      socketType: socketName(s.socketType), auth: authName(s.authMethod),
      username: s.username,
    };
  };
  const accounts = MailServices.accounts.accounts.map(account => {
    const s = account.incomingServer;
    let pop3 = null;
    if (s.type == "pop3") {
      const p = s.QueryInterface(Ci.nsIPop3IncomingServer);
      pop3 = {
        leaveOnServer: p.leaveMessagesOnServer, daysToLeave: p.numDaysToLeaveOnServer,
        deleteByAge: p.deleteByAgeFromServer, downloadOnBiff: s.downloadOnBiff,
      };
    }
    return {
      key: account.key, serverKey: s.key, prettyName: s.prettyName, valid: s.valid, pop3,
      server: {
        type: s.type, hostname: s.hostname, port: s.port,
        socketType: socketName(s.socketType), auth: authName(s.authMethod),
        username: s.username,
      },
      identities: account.identities.map(id => ({
        key: id.key, email: id.email, fullName: id.fullName, valid: id.valid,
        smtpServerKey: id.smtpServerKey,
        sendsWith: MailServices.outgoingServer.getServerByIdentity(id)?.key ?? null,
      })),
    };
  });
  let localFolders = null;
  try {
    localFolders = MailServices.accounts.localFoldersServer?.key ?? null;
  } catch (e) {
    // The getter throws NS_ERROR_NULL_POINTER when there is none.
  }
  return {
    accounts, localFolders,
    defaultAccount: MailServices.accounts.defaultAccount?.key ?? null,
    outgoing: MailServices.outgoingServer.servers.map(outgoing),
    defaultOutgoing: MailServices.outgoingServer.defaultServer?.key ?? null,
  };
})();
"""
)


_JS_MAIL_PREFS = r"""
const b = Services.prefs;
const value = name => {
  switch (b.getPrefType(name)) {
    case b.PREF_STRING: return b.getStringPref(name);
    case b.PREF_INT: return b.getIntPref(name);
    case b.PREF_BOOL: return b.getBoolPref(name);
  }
  return null;
};
return Object.fromEntries(
  b.getChildList("mail.").filter(name => b.prefHasUserValue(name)).map(n => [n, value(n)]));
"""


# --- a lab copy of the installation folder --------------------------------------------

_INSTALL_DIRS = ("/usr/lib/thunderbird", "/usr/lib64/thunderbird", "/opt/thunderbird")


def installation_dir() -> Path | None:
    """The folder with Thunderbird's omni.ja and defaults/ (the Debian ``thunderbird``
    command is a wrapper script in /usr/bin), or None."""
    binary = thunderbird_binary()
    candidates = [Path(binary).resolve().parent] if binary else []
    candidates += [Path(d) for d in _INSTALL_DIRS]
    return next((d for d in candidates if (d / "omni.ja").exists()), None)


def lab_installation(target: Path, extra: Mapping[str, bytes]) -> Path:
    """A private installation folder at ``target``: the real one plus ``extra`` files.

    Thunderbird reads ``defaults/pref/*.js`` and the AutoConfig script from its
    own installation folder (the "GreD" directory), which it finds from the real
    path of its executable. So the executable is copied (590 kB) while every
    other entry is a symbolic link to the real one, and ``defaults/pref/`` is a
    folder of our own: ``extra`` (paths relative to the installation folder)
    lands in the copy, and nothing under /usr/lib/thunderbird is ever written.
    """
    real = installation_dir()
    if real is None:
        raise Unavailable(INSTALL_HINT)
    target.mkdir(parents=True)
    for entry in real.iterdir():
        if entry.name == "defaults":
            continue
        if entry.name.startswith("thunderbird") and entry.is_file() and not entry.is_symlink():
            shutil.copy2(entry, target / entry.name)  # the executables: GreD is their folder
        elif entry.is_symlink() and entry.name.startswith("thunderbird"):
            (target / entry.name).symlink_to(os.readlink(entry))  # thunderbird -> thunderbird-bin
        else:
            (target / entry.name).symlink_to(entry.resolve())
    defaults = (real / "defaults").resolve()
    (target / "defaults").mkdir()
    for entry in defaults.iterdir():
        if entry.name != "pref":
            (target / "defaults" / entry.name).symlink_to(entry.resolve())
    (target / "defaults" / "pref").mkdir()
    for entry in (defaults / "pref").iterdir():
        (target / "defaults" / "pref" / entry.name).symlink_to(entry.resolve())
    for name, data in extra.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return target


# --- the process ----------------------------------------------------------------------


def _pref_line(name: str, value: bool | int | str) -> str:
    # JSON's true/false, integers and "strings" are what libpref reads.
    return f"user_pref({json.dumps(name)}, {json.dumps(value)});\n"


class Thunderbird:
    """One Thunderbird process on its own profile, HOME and log, under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        user_js: str | None = None,
        prefs: Mapping[str, bool | int | str] | None = None,
        install: Path | None = None,
    ) -> None:
        """``prefs`` go to the new profile's prefs.js next to ours (an existing
        profile, as Thunderbird would have saved it); ``install`` is a
        Thunderbird installation folder to run instead of the one on PATH
        (see :func:`lab_installation`)."""
        self.workdir = workdir
        self.profile = workdir / "profile"
        self.home = workdir / "home"
        self.log_path = workdir / "thunderbird.log"
        self.user_js = user_js
        self.prefs = dict(prefs or {})
        self.install = install
        self._process: subprocess.Popen[bytes] | None = None
        self._marionette: Marionette | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """Pid of the running Thunderbird (also its session id), None when stopped."""
        return None if self._process is None else self._process.pid

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Start Thunderbird and open a chrome-context Marionette session.

        Raises :class:`Unavailable` when it is not installed or does not come
        up (with the tail of its log); the process is gone again in that case.
        """
        binary = thunderbird_binary()
        if binary is None:
            raise Unavailable(INSTALL_HINT)
        if self.install is not None:
            binary = str(self.install / "thunderbird")
        if not self.profile.exists():  # else: a later start of the same profile
            for folder in (self.profile, self.home):
                folder.mkdir(parents=True)
            prefs = {**self.prefs, **_PREFS}
            (self.profile / "prefs.js").write_text(
                "".join(_pref_line(k, v) for k, v in prefs.items())
            )
            if self.user_js is not None:
                (self.profile / "user.js").write_text(self.user_js, encoding="utf-8")
        # A killed Thunderbird leaves its port file behind: never read a stale port.
        (self.profile / "MarionetteActivePort").unlink(missing_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DISPLAY", "WAYLAND_DISPLAY", "MOZ_NO_REMOTE")
        }
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            MOZ_HEADLESS="1",
            MOZ_CRASHREPORTER_DISABLE="1",
        )
        command = [
            binary,
            "--headless",
            "--marionette",
            "--remote-allow-system-access",
            "-no-remote",
            "-profile",
            str(self.profile),
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            port = self._wait_for_port(deadline)
            # NewSession answers once the main window has loaded: part of starting.
            self._marionette = Marionette(port, timeout=max(deadline - time.monotonic(), 1.0))
            self._marionette.new_chrome_session(SCRIPT_TIMEOUT_MS)
            self._marionette.set_timeout(READ_TIMEOUT_S)
        except (OSError, MarionetteError, Unavailable) as exc:
            self.stop()
            raise Unavailable(
                f"Thunderbird ({binary}) did not start: {exc}\n{self.log_tail()}"
            ) from exc
        except BaseException:  # a bug, a timeout, ^C: no Thunderbird left behind
            self.stop()
            raise
        return self

    def _wait_for_port(self, deadline: float) -> int:
        assert self._process is not None
        port_file = self.profile / "MarionetteActivePort"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise Unavailable(f"it exited with status {code}")
            with contextlib.suppress(FileNotFoundError):
                text = port_file.read_text().strip()
                if text.isdigit():  # else: being written, read again
                    return int(text)
            time.sleep(_POLL_S)
        raise Unavailable(f"no Marionette port after {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Kill Thunderbird and every process of its session; idempotent."""
        if self._marionette is not None:
            self._marionette.close()
            self._marionette = None
        process, self._process = self._process, None
        if process is None:
            return
        # The session id is the pid of the leader (start_new_session=True). The
        # leader is reaped last: until then its pid, so the session id, cannot be
        # reused, and every process found in the session is one of ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + _KILL_WAIT_S
        while (left := session_members(process.pid)) and time.monotonic() < deadline:
            # A child that moved to its own process group is still in the session.
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(_POLL_S)
        process.wait()

    def log_tail(self, lines: int = 15) -> str:
        """The end of Thunderbird's output, without GTK's headless noise."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        kept = [
            line
            for line in text.splitlines()
            if line.strip() and "gtk" not in line.lower() and "glib warning" not in line
        ]
        return "\n".join(kept[-lines:]) or "(empty log)"

    # --- scripts ----------------------------------------------------------------------

    def execute(self, script: str, *args: Any) -> Any:
        if self._marionette is None:
            raise RuntimeError("Thunderbird is not started")
        return self._marionette.execute(script, *args)

    def read_isp_files(
        self, files: Mapping[str, Path], *, local_part: str = "jane", real_name: str = "Jane Doe"
    ) -> dict[str, IspConfig]:
        """Each file as Thunderbird's isp/ loader reads it, for ``local_part@domain``.

        ``files`` maps a domain to its autoconfig file; they are copied to
        ``<workdir>/install/isp/<domain>.xml``, a stand-in for the installation
        folder (nothing is written under /usr/lib/thunderbird).
        """
        install = self.workdir / "install"
        isp = install / "isp"
        isp.mkdir(parents=True, exist_ok=True)
        for domain, path in files.items():
            shutil.copyfile(path, isp / f"{domain}.xml")
        requests = [
            {"domain": d, "email": f"{local_part}@{d}", "realName": real_name} for d in files
        ]
        raw = self.execute(_JS_READ_ISP, str(install), requests)
        found: dict[str, IspConfig] = {}
        for item in raw:
            if item["error"] is not None:
                found[item["domain"]] = IspConfig(domain=item["domain"], error=item["error"])
                continue
            found[item["domain"]] = IspConfig(
                domain=item["domain"],
                error=None,
                provider_id=item["id"],
                display_name=item["displayName"],
                domains=tuple(item["domains"]),
                sub_source=item["subSource"],
                incoming=tuple(_server(s) for s in item["incoming"]),
                pop3=tuple(_pop3(p) for p in item["pop3"]),
                outgoing=tuple(_server(s) for s in item["outgoing"]),
            )
        return found

    def mail_prefs(self) -> dict[str, bool | int | str]:
        """Every pref with a value of its own under ``mail.``, as Thunderbird holds it."""
        return dict(self.execute(_JS_MAIL_PREFS))

    def quit(self) -> None:
        """Quit as a person would, so that Thunderbird writes prefs.js itself, whole,
        then :meth:`stop`. (``Services.prefs.savePrefFile(null)`` only queues an
        off-main-thread write, which the kill in :meth:`stop` can cut short: on a
        loaded machine the next start then read an older prefs.js.)"""
        from tests.thunderbird.marionette import MarionetteError

        marionette, process = self._marionette, self._process
        if marionette is not None and process is not None:
            with contextlib.suppress(MarionetteError, OSError):
                marionette.command("Marionette:Quit", {"flags": ["eForceQuit"]})
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_QUIT_WAIT_S)
        self.stop()

    def profile_accounts(self) -> ProfileAccounts:
        """The accounts, identities and SMTP servers Thunderbird's services hold."""
        raw = self.execute(_JS_ACCOUNTS)
        accounts = tuple(
            Account(
                key=a["key"],
                server_key=a["serverKey"],
                server=_server(a["server"]),
                pretty_name=a["prettyName"],
                valid=a["valid"],
                pop3=_pop3(a["pop3"]),
                identities=tuple(
                    Identity(
                        key=i["key"],
                        email=i["email"],
                        full_name=i["fullName"],
                        valid=i["valid"],
                        smtp_server_key=i["smtpServerKey"],
                        sends_with=i["sendsWith"],
                    )
                    for i in a["identities"]
                ),
            )
            for a in raw["accounts"]
        )
        return ProfileAccounts(
            accounts=accounts,
            default_account=raw["defaultAccount"],
            local_folders=raw["localFolders"],
            outgoing={s["key"]: _server(s) for s in raw["outgoing"]},
            default_outgoing=raw["defaultOutgoing"],
        )


def session_members(sid: int) -> list[int]:
    """Pids of live processes in session ``sid`` (from /proc: there is no ``ps`` here)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
