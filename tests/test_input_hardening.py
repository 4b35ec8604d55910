"""Hostile inputs end in one line of error: devices, FIFOs, endless standard input,
TOML nested too deep, numbers too large, absurd timeouts, folders that cannot be
written. Each runs the real command; the ones that could hang or eat the machine's
memory before the fix run it in a child process with a memory cap and a timeout.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import main
from tests.lab.servers import Lab

ROOT = Path(__file__).resolve().parents[1]
MEMORY_CAP = 1 << 30  # reading /dev/zero whole would pass it: MemoryError, a failure here
CHILD = (
    "import resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
    "from advisor.cli import main\n"
    "sys.argv[0] = 'advisor'\n"
    "main()\n"
)


def advisor(
    *args: str,
    stdin: int | None = subprocess.DEVNULL,
    text_in: str | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, memory capped; a hang fails the test."""
    # glibc reserves 64 MiB of address space per thread arena: with a 1 GiB cap a
    # discovery's probe threads would run out of address space, not of memory.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "MALLOC_ARENA_MAX": "2"}
    return subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, *args],
        stdin=None if text_in is not None else stdin,
        input=text_in,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def one_line_error(code: int, stderr: str, *expected: str) -> None:
    assert code in (1, 2), stderr
    # `rules check` lists every error, then counts them: one error here.
    lines = [n for n in stderr.strip().splitlines() if n != "advisor: 1 error(s) in the rule files"]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(("advisor: error: ", "advisor: erreur\u202f: ")), stderr
    for text in expected:
        assert text in lines[0], stderr


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert isinstance(info.value.code, int)
    return info.value.code, out, err


# ------------------------------------------------------------------ bounded reads


def _commands(path: Path, tmp: Path) -> dict[str, list[str]]:
    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    staff = tmp / "staff.csv"
    staff.write_text("email\nana@gmx.com\n", encoding="utf-8")
    rule = rules / "x.toml"
    if not rule.is_symlink():
        rule.symlink_to(path)  # a rules folder whose file is a device or a FIFO
    return {
        "from-json": ["recommend", "a@example.com", "--offline", "--from-json", str(path)],
        "answers": ["recommend", "a@example.com", "--offline", "--answers", str(path)],
        "rules": ["rules", "check", str(rules)],
        "lint": ["lint", str(path)],
        "onboard": ["onboard", str(path), "--out", str(tmp / "out"), "--offline"],
        "verify-config": ["verify", "a@example.com", "--config", str(path), "--password-stdin"],
        "check-domains": ["check", "--domains", str(path)],
        "onboard-servers": [
            "onboard",
            str(staff),
            "--out",
            str(tmp / "out"),
            "--servers",
            str(path),
        ],
    }


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
@pytest.mark.parametrize(
    "command",
    [
        "from-json",
        "answers",
        "rules",
        "lint",
        "onboard",
        "verify-config",
        "check-domains",
        "onboard-servers",
    ],
)
def test_a_device_fifo_or_folder_where_a_file_is_expected(
    tmp_path: Path, kind: str, command: str
) -> None:
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # nobody ever writes to it: opening it plainly waits for ever
    elif kind == "device":
        path = Path("/dev/zero")  # st_size 0, endless: reading it whole needs all memory
    else:
        path = tmp_path / "folder"
        path.mkdir()
    args = _commands(path, tmp_path)[command]
    if command == "rules" and kind == "folder":
        return  # a folder of rule files is what `rules check` expects
    done = advisor(*args, text_in="password\n" if command == "verify-config" else None)
    expected = {"fifo": "a pipe (FIFO), not a file", "device": "a device, not a file"}
    reason = expected.get(kind, "a folder, not a file")
    if command == "lint":  # lint reports an unreadable file as that file's error
        assert (done.returncode, done.stderr) == (1, "")
        assert f"{path}: error [unreadable] file: {reason}" in done.stdout
    else:
        one_line_error(done.returncode, done.stderr, reason)
    assert not (tmp_path / "out").exists()


def test_a_file_one_byte_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with report.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: costs no disk
    done = advisor("recommend", "a@example.com", "--from-json", str(report))
    one_line_error(done.returncode, done.stderr, "larger than 16 MiB")


@pytest.mark.parametrize("flag", ["--password-stdin", "--oauth-token-stdin"])
def test_endless_standard_input_for_a_secret(lab: Lab, flag: str) -> None:
    # verify asks for the secret once a server answers a connection: give it one.
    ip = lab.host("imap.endless.test")
    with socket.create_server((ip, 993)) as listener:
        listener.listen()
        with open("/dev/zero", "rb") as zero:
            done = advisor(
                *("verify", "a@endless.test", "--imap", "imap.endless.test:993:ssl"),
                *("--dns", lab.dns_spec, flag),
                stdin=zero.fileno(),
            )
    one_line_error(done.returncode, done.stderr, flag, "longer than")


def test_a_long_password_line_within_the_limit_is_still_read(tmp_path: Path) -> None:
    from io import StringIO

    from advisor.secrets import MAX_SECRET_CHARS, read_password

    value = "p" * MAX_SECRET_CHARS
    assert read_password(stdin=True, prompt="", stream=StringIO(value + "\r\n")).reveal() == value
    with pytest.raises(Exception, match="longer than"):
        read_password(stdin=True, prompt="", stream=StringIO(value + "p\n"))


# ------------------------------------------------------------------ one-line errors


DEEP_TOML = "x = " + "[" * 900 + "]" * 900 + "\n"


def test_toml_nested_900_deep(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(DEEP_TOML)
    code, _, err = run_cli(
        capsys, "recommend", "a@example.com", "--offline", "--answers", str(answers)
    )
    one_line_error(code, err, "nested too deeply")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "deep.toml").write_text(DEEP_TOML)
    code, _, err = run_cli(capsys, "rules", "check", str(rules))
    one_line_error(code, err, "nested too deeply")
    code, _, err = run_cli(capsys, "recommend", "a@example.com", "--offline", "--rules", str(rules))
    one_line_error(code, err, "nested too deeply")


@pytest.mark.parametrize("number", ["1" + "0" * 400, "1" + "0" * 400 + ".5"])
def test_a_400_digit_number_in_a_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, number: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "big.toml").write_text(
        '[[rule]]\nid = "big"\n'
        f'when = "mailbox_size_gb > {number}"\n'
        'exclude = "pop3"\nexplain.en = "x"\nexplain.fr = "x"\n'
    )
    code, _, err = run_cli(capsys, "rules", "check", str(rules))
    one_line_error(code, err, "big.toml:3", "too large")
    code, _, err = run_cli(capsys, "recommend", "a@example.com", "--offline", "--rules", str(rules))
    one_line_error(code, err, "too large")


@pytest.mark.parametrize("value", ["inf", "1e308", "nan", "-1", "0", "-inf"])
@pytest.mark.parametrize("command", ["recommend", "verify"])
def test_absurd_timeouts_are_usage_errors(
    capsys: pytest.CaptureFixture[str], value: str, command: str
) -> None:
    extra = ["--offline"] if command == "recommend" else ["--password-stdin"]
    code, _out, err = run_cli(capsys, command, "a@example.com", *extra, "--timeout", value)
    assert code == 2, err
    assert "--timeout" in err
    assert "internal error" not in err
    assert "Traceback" not in err


def test_a_timeout_of_an_hour_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "recommend", "a@gmx.com", "--offline", "--timeout", "3600")
    assert code == 0, err


def _without_root_powers() -> tuple[str, ...]:
    """A prefix that makes root obey file permissions (no CAP_DAC_OVERRIDE), as a user is."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to test permissions as root"
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner")


def test_a_read_only_onboard_out(tmp_path: Path) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("email,name\nana@gmx.com,Ana\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        done = advisor(
            "onboard",
            str(staff),
            "--out",
            str(out),
            "--offline",
            "--cache-ttl",
            "0",
            "--no-progress",
            prefix=_without_root_powers(),
        )
    finally:
        out.chmod(0o755)
    one_line_error(done.returncode, done.stderr, str(out), "Permission denied")
    assert list(out.iterdir()) == []


def test_a_full_disk_under_standard_output() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "advisor", "discover", "a@gmx.com", "--offline", "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
            check=False,
        )
    one_line_error(done.returncode, done.stderr, "No space left on device")


def test_the_refusals_are_in_french_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    from advisor.i18n import set_language

    try:
        code, _, err = run_cli(capsys, "recommend", "a@example.com", "--from-json", str(tmp_path))
    finally:
        set_language("en")  # the process's language, for the tests that follow
    one_line_error(
        code, err, "un dossier, pas un fichier\u202f; attendu\u202f: un rapport de découverte"
    )
