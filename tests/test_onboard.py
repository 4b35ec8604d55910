"""`advisor onboard` end to end against the lab: two domains, two languages, bad rows,
the cache, resuming a killed run and keeping files edited by hand."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from advisor import runner
from advisor.cli import main
from advisor.onboard import MANIFEST, read_manifest
from tests.lab.servers import DEFAULT_USERS, Lab

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[1]

STAFF = """email,name,lang,clients,devices,calendars
ana@alpha.test,Ana Lima,en,"thunderbird,outlook","laptop, phone",
bruno@beta.test,Bruno Ébert,fr,thunderbird;apple-mail,desktop,
not-an-address,Nobody,,,,
carla@alpha.test,=HYPERLINK("http://evil"),fr,ios-mail,phone,
dan@alpha.test,Dan,de,,,
eve@beta.test,Eve,,webmail,laptop,maybe
ana@alpha.test,Ana Again,,,,
fay@alpha.test,"Fay ""Fi"" O'Neil <b>",en,android;new-outlook,"phone=2",share
"""


@pytest.fixture(scope="module")
def domains(module_lab: Lab) -> Lab:
    """alpha.test: IMAP (993) and submission (465); beta.test: POP3 only (995) and 587."""
    lab = module_lab
    lab.zone(
        "alpha.test",
        "_imaps._tcp SRV 0 1 993 imap.alpha.test.\n"
        "_submissions._tcp SRV 0 1 465 smtp.alpha.test.\n",
    )
    lab.dovecot("imap.alpha.test")
    lab.smtp("smtp.alpha.test")
    lab.zone(
        "beta.test",
        "_pop3s._tcp SRV 0 1 995 pop.beta.test.\n_submission._tcp SRV 0 1 587 smtp.beta.test.\n",
    )
    lab.dovecot("pop.beta.test", imap=None, imaps=None)
    lab.smtp("smtp.beta.test")
    return lab


@pytest.fixture
def discoveries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses discovery ran for, in this test."""
    calls: list[str] = []
    real = runner.run_discovery

    def counting(address: str, **kwargs: Any) -> Any:
        calls.append(address)
        return real(address, **kwargs)

    monkeypatch.setattr(runner, "run_discovery", counting)
    return calls


def onboard(
    capsys: pytest.CaptureFixture[str], lab: Lab, csv_path: Path, out: Path, *extra: str
) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(
            [
                "onboard",
                str(csv_path),
                "--out",
                str(out),
                "--dns",
                lab.dns_spec,
                "--ca-file",
                str(lab.ca_file),
                "--cache-dir",
                str(out.parent / "cache"),
                "--timeout",
                "5",
                *extra,
            ]
        )
    stdout, stderr = capsys.readouterr()
    assert isinstance(info.value.code, int)
    return info.value.code, stdout, stderr


def summary(out: Path) -> dict[int, dict[str, str]]:
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as handle:
        return {int(row["line"]): row for row in csv.DictReader(handle)}


def every_file(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("processes", ["1", "2"])
def test_mixed_csv_two_domains_two_languages(
    domains: Lab,
    discoveries: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    processes: str,
) -> None:
    """In this process, and shared among two worker processes: the same result."""
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, stderr = onboard(capsys, domains, staff, out, "--processes", processes)
    assert code == 1, stderr  # some rows failed
    assert sorted(discoveries) == ["ana@alpha.test", "bruno@beta.test"]  # once per domain

    rows = summary(out)
    status = {line: row["status"] for line, row in rows.items()}
    assert status == {
        2: "done",
        3: "done",
        4: "failed",
        5: "done",
        6: "failed",
        7: "failed",
        8: "failed",
        9: "done",
    }
    assert "'@'" in rows[4]["message"]
    assert rows[6]["message"] == "lang 'de': expected en or fr"
    assert "calendars" in rows[7]["message"]
    assert rows[8]["message"] == "duplicate of line 2"
    # The console names every failed row with its line.
    for line in (4, 6, 7, 8):
        assert f"line {line}:" in stdout
    # A formula in a name stays text in the spreadsheet.
    assert rows[5]["name"].startswith("'=HYPERLINK")

    # alpha.test offers IMAP; beta.test only POP3.
    assert (rows[2]["protocol"], rows[3]["protocol"]) == ("imap", "pop3")
    ana = out / "ana@alpha.test"
    assert sorted(every_file(ana)) == [
        MANIFEST,
        "outlook/alpha.test.prf",
        "outlook/autodiscover-alpha.test.reg",
        "outlook/autodiscover-alpha.test.xml",
        "setup-sheet.html",
        "setup-sheet.md",
        "thunderbird/alpha.test.xml",
        "thunderbird/enterprise/defaults/pref/autoconfig.js",
        "thunderbird/enterprise/mozilla.cfg",
        "thunderbird/user.js",
    ]
    user_js = (ana / "thunderbird" / "user.js").read_text()
    assert '"ana@alpha.test"' in user_js
    assert "imap.alpha.test" in user_js
    bruno = out / "bruno@beta.test"
    assert (bruno / "apple" / "beta.test.mobileconfig").exists()
    assert "pop.beta.test" in (bruno / "thunderbird" / "user.js").read_text()
    # Languages: French for Bruno, English for Ana.
    french = (bruno / "setup-sheet.md").read_text()
    assert "POP3" in french
    assert 'lang="fr"' in (bruno / "setup-sheet.html").read_text()
    assert 'lang="en"' in (ana / "setup-sheet.html").read_text()
    # Only sheets for people whose programs take no file.
    assert sorted(every_file(out / "fay@alpha.test")) == [
        MANIFEST,
        "setup-sheet.html",
        "setup-sheet.md",
    ]
    assert "<b>" not in (out / "fay@alpha.test" / "setup-sheet.html").read_text()
    # The index lists everyone, failed rows included, with links for the others.
    index = (out / "index.html").read_text()
    assert "not-an-address" in index
    assert 'href="ana%40alpha.test/setup-sheet.html"' in index
    # No password anywhere: none was asked for, none is written.
    for path in out.rglob("*"):
        if path.is_file():
            for password in DEFAULT_USERS.values():
                assert password.encode() not in path.read_bytes()


def test_cache_hit_and_refresh(
    domains: Lab, discoveries: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("email,lang\nana@alpha.test,en\nbruno@beta.test,fr\n", encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, _ = onboard(capsys, domains, staff, out)
    assert code == 0
    assert len(discoveries) == 2
    assert "fresh" in stdout
    # The cache names the domains onboarded: folders only their owner may open.
    for folder in (tmp_path / "cache", tmp_path / "cache" / "discovery"):
        assert folder.stat().st_mode & 0o777 == 0o700

    # A second run in another folder: both domains come from the cache, with their age.
    code, stdout, _ = onboard(capsys, domains, staff, tmp_path / "again")
    assert code == 0
    assert len(discoveries) == 2  # no new discovery
    assert "cached just now" in stdout
    assert summary(tmp_path / "again")[2]["discovery"] == "cached just now"
    assert "cached just now" in (tmp_path / "again" / "index.html").read_text()
    # Three hours later (the cache's clock, not the test's): the age says so.
    for entry in (tmp_path / "cache" / "discovery").glob("*.json"):
        doc = json.loads(entry.read_text())
        doc["saved_at"] -= 3 * 3600
        entry.write_text(json.dumps(doc))
    code, stdout, _ = onboard(capsys, domains, staff, tmp_path / "again")
    assert "cached 3 h ago" in stdout
    assert summary(tmp_path / "again")[2]["discovery"] == "cached 3 h ago"
    assert "cached 3 h ago" in (tmp_path / "again" / "index.html").read_text()
    assert len(discoveries) == 2

    code, stdout, _ = onboard(capsys, domains, staff, tmp_path / "again", "--refresh")
    assert code == 0
    assert len(discoveries) == 4
    rows = summary(tmp_path / "again")
    assert {r["discovery"] for r in rows.values()} == {"fresh"}
    # Same servers: the files are the same, so the rows are unchanged.
    assert {r["status"] for r in rows.values()} == {"unchanged"}

    # --cache-ttl 0: no cache at all.
    code, _, _ = onboard(capsys, domains, staff, tmp_path / "other", "--cache-ttl", "0")
    assert len(discoveries) == 6

    # Cache files damaged past their checks (inside the report; JSON nested deeper than
    # the parser recurses): each is a miss, the domain is discovered again; no crash.
    alpha = tmp_path / "cache" / "discovery" / "alpha.test.json"
    beta = tmp_path / "cache" / "discovery" / "beta.test.json"
    doc = json.loads(alpha.read_text())
    doc["report"]["incoming"] = 5
    alpha.write_text(json.dumps(doc))
    beta.write_text('{"schema": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, stdout, stderr = onboard(capsys, domains, staff, tmp_path / "damaged")
    assert (code, stderr) == (0, "")
    assert len(discoveries) == 8
    rows = summary(tmp_path / "damaged")
    assert [(r["status"], r["discovery"]) for r in rows.values()] == [("done", "fresh")] * 2


def test_resume_skips_finished_rows_and_redoes_changed_ones(
    domains: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("email,lang\nana@alpha.test,en\nbruno@beta.test,fr\n", encoding="utf-8")
    out = tmp_path / "out"
    assert onboard(capsys, domains, staff, out)[0] == 0
    before = every_file(out / "ana@alpha.test")
    code, stdout, _ = onboard(capsys, domains, staff, out)
    assert code == 0
    assert {r["status"] for r in summary(out).values()} == {"unchanged"}
    assert "2 unchanged" in stdout
    assert every_file(out / "ana@alpha.test").keys() == before.keys()

    # Ana now reads French: her row is redone, Bruno's is not.
    staff.write_text("email,lang\nana@alpha.test,fr\nbruno@beta.test,fr\n", encoding="utf-8")
    code, _, _ = onboard(capsys, domains, staff, out)
    rows = summary(out)
    assert (rows[2]["status"], rows[3]["status"]) == ("done", "unchanged")
    assert 'lang="fr"' in (out / "ana@alpha.test" / "setup-sheet.html").read_text()

    # --force redoes every row.
    code, _, _ = onboard(capsys, domains, staff, out, "--force")
    assert {r["status"] for r in summary(out).values()} == {"done"}


def test_hand_edited_files_are_never_overwritten(
    domains: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("email,lang,clients\nana@alpha.test,en,thunderbird\n", encoding="utf-8")
    out = tmp_path / "out"
    assert onboard(capsys, domains, staff, out)[0] == 0
    sheet = out / "ana@alpha.test" / "setup-sheet.md"
    user_js = out / "ana@alpha.test" / "thunderbird" / "user.js"
    sheet.write_text("Edited by IT: call Bob first.\n", encoding="utf-8")
    original_js = user_js.read_bytes()

    code, stdout, _ = onboard(capsys, domains, staff, out, "--force")
    assert code == 0
    assert sheet.read_text() == "Edited by IT: call Bob first.\n"
    new = sheet.with_name("setup-sheet.md.new")
    assert new.exists()
    assert new.read_bytes() != sheet.read_bytes()
    assert user_js.read_bytes() == original_js  # untouched files are simply rewritten
    row = summary(out)[2]
    assert row["status"] == "kept-edits"
    assert "setup-sheet.md" in row["message"]
    assert "edited by hand" in stdout

    # A changed row does not overwrite it either; deleting the edit lets it be rewritten.
    staff.write_text("email,lang,clients\nana@alpha.test,fr,thunderbird\n", encoding="utf-8")
    onboard(capsys, domains, staff, out)
    assert sheet.read_text() == "Edited by IT: call Bob first.\n"
    sheet.unlink()
    onboard(capsys, domains, staff, out, "--force")
    assert sheet.exists()
    assert summary(out)[2]["status"] == "done"

    # A file that was there before advisor (no manifest knows it) is not ours either.
    stranger = out / "bruno@beta.test" / "setup-sheet.html"
    stranger.parent.mkdir()
    stranger.write_text("<p>mine</p>")
    staff.write_text("email,lang\nbruno@beta.test,fr\n", encoding="utf-8")
    onboard(capsys, domains, staff, out)
    assert stranger.read_text() == "<p>mine</p>"
    assert summary(out)[2]["status"] == "kept-edits"

    # summary.csv edited by hand is kept too; this run's goes beside it.
    (out / "summary.csv").write_text("my notes\n")
    code, stdout, _ = onboard(capsys, domains, staff, out)
    assert (out / "summary.csv").read_text() == "my notes\n"
    assert (out / "summary.csv.new").exists()
    assert "summary.csv was edited by hand" in stdout


def write_staff(path: Path, rows: int, *, flip: bool = False) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,lang,clients\n")
        for i in range(rows):
            domain = "alpha.test" if i % 2 else "beta.test"
            lang = "fr" if (i % 3 != 0) != flip else "en"
            handle.write(f"user{i}@{domain},User {i},{lang},thunderbird;outlook;apple-mail\n")


def kill_midway(
    command: list[str],
    env: dict[str, str],
    out: Path,
    since: float,
    how: signal.Signals = signal.SIGKILL,
) -> int:
    """Start ``command``, send it ``how`` once 20 employee manifests were written after
    ``since``; its exit code."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = 0
            if out.exists():
                for manifest in out.glob(f"*/{MANIFEST}"):
                    with contextlib.suppress(FileNotFoundError):
                        written += manifest.stat().st_mtime > since
            if written >= 20:
                break
            if process.poll() is not None:
                pytest.fail("the run ended before it could be killed: make it longer")
            time.sleep(0.005)
        process.send_signal(how)
    finally:
        code = process.wait(timeout=30)
    return code


def workers_of(out: Path) -> list[int]:
    """Live worker processes (multiprocessing spawn) whose parent ran onboarding to ``out``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and f"ONBOARD_TEST_OUT={out}".encode() in environ:
            found.append(int(proc.name))
    return found


def check_whole(out: Path) -> int:
    """Every file of every employee folder is exactly a version advisor meant to write
    (its hash is in the manifest); returns the number of finished folders."""
    finished = 0
    for folder in out.iterdir():
        # ".NAME.XXXX.tmp": a new folder being written aside, removed by the next run.
        if not folder.is_dir() or folder.name.endswith(".tmp"):
            continue
        manifest = read_manifest(folder)
        assert manifest is not None, folder
        finished += manifest.state == "done"
        for path in folder.rglob("*"):
            if path.is_dir() or path.name == MANIFEST or path.name.endswith(".tmp"):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert manifest.ours(str(path.relative_to(folder)), digest), f"{path} is not whole"
    return finished


@pytest.mark.parametrize("phase", ["first run", "update", "ctrl-c", "processes"])
def test_killed_run_leaves_whole_files_and_resumes(
    domains: Lab, tmp_path: Path, phase: str
) -> None:
    """SIGKILL (or Ctrl-C) in the middle of a run, then run again: every file is whole,
    then all done.

    "update": the run killed is the one that rewrites every folder (all languages
    changed), so folders are caught between their "writing" and "done" manifests.
    """
    rows = 400
    staff = tmp_path / "staff.csv"
    write_staff(staff, rows)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "advisor",
        "onboard",
        str(staff),
        "--out",
        str(out),
        "--dns",
        domains.dns_spec,
        "--ca-file",
        str(domains.ca_file),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--jobs",
        "4",
        "--no-progress",
    ]
    if phase == "processes":  # killed while two worker processes write
        command += ["--processes", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONBOARD_TEST_OUT": str(out)}
    if phase == "update":
        result = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True)
        assert result.returncode == 0, result.stderr
        write_staff(staff, rows, flip=True)
        time.sleep(0.05)  # mtimes of this run's manifests are later than every earlier one
    since = time.time()
    if phase == "ctrl-c":
        # Ctrl-C: the rows being written finish, the queued ones are dropped, exit 130.
        assert kill_midway(command, env, out, since, signal.SIGINT) == 130
    else:
        kill_midway(command, env, out, since)
    finished = check_whole(out)
    assert 0 < finished <= rows
    if phase == "processes":
        # The worker processes noticed and ended; none is left writing.
        deadline = time.monotonic() + 10
        while workers_of(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not workers_of(out)

    result = subprocess.run(
        command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    statuses = [row["status"] for row in summary(out).values()]
    assert len(statuses) == rows
    assert "unchanged" in statuses  # what the killed run finished is not done again
    assert "done" in statuses
    assert "kept-edits" not in statuses  # its own half-done folders are not "hand edits"
    assert not list(out.rglob("*.tmp"))
    assert not list(out.rglob("*.new"))
    assert check_whole(out) == rows
    if phase == "update":
        for i in (0, 1):
            sheet = out / f"user{i}@{'alpha.test' if i % 2 else 'beta.test'}" / "setup-sheet.html"
            assert f'lang="{"fr" if i % 3 == 0 else "en"}"' in sheet.read_text()


def test_fatal_input_errors_are_one_line(
    domains: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, _, stderr = onboard(capsys, domains, tmp_path / "missing.csv", out)
    assert code == 1
    assert stderr.count("\n") == 1
    assert "cannot read" in stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("courrier,name\nana@alpha.test,Ana\n")
    code, _, stderr = onboard(capsys, domains, bad, out)
    assert code == 1
    assert "unknown column 'courrier'" in stderr
    answers = tmp_path / "org.toml"
    answers.write_text('calendars = "always"\n')
    good = tmp_path / "good.csv"
    good.write_text("email\nana@alpha.test\n")
    code, _, stderr = onboard(capsys, domains, good, out, "--answers", str(answers))
    assert code == 1
    assert "org.toml" in stderr
    assert not out.exists() or not any(out.iterdir())  # nothing was done


def test_json_free_manifest_is_readable(tmp_path: Path) -> None:
    """A damaged manifest makes every file foreign (kept), never a crash."""
    (tmp_path / MANIFEST).write_text("{not json")
    assert read_manifest(tmp_path) is None
    (tmp_path / MANIFEST).write_text(json.dumps({"schema": "other"}))
    assert read_manifest(tmp_path) is None
