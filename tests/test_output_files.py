"""What advisor leaves on disk: permissions from the umask, a private cache, no write
through a symbolic link planted in an output folder, and an export that writes
every client's files or none. Each runs the real command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_discovery import run_cli

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = "ana@gmx.com"  # in the built-in catalogue: --offline needs no network


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry below ``folder``: files with their bytes, folders as None."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def with_umask(umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "sh",
            "-c",
            f'umask {umask:03o} && exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "advisor",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("umask", "files", "folders"),
    [(0o027, 0o640, 0o750), (0o002, 0o664, 0o775)],
    ids=["umask-027", "umask-002"],
)
def test_exported_files_get_what_the_umask_gives(
    tmp_path: Path, umask: int, files: int, folders: int
) -> None:
    out = tmp_path / "out"
    done = with_umask(umask, "export", ADDRESS, "--offline", "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = list(out.rglob("*"))
    assert {mode(p) for p in written if p.is_file()} == {files}
    assert {mode(p) for p in written if p.is_dir()} == {folders}


def test_onboarding_files_get_what_the_umask_gives(tmp_path: Path) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text(f"email,name\n{ADDRESS},Ana\n", encoding="utf-8")
    out = tmp_path / "out"
    done = with_umask(
        0o027, "onboard", str(staff), "--out", str(out), "--offline", "--cache-ttl", "0"
    )
    assert done.returncode == 0, done.stderr
    assert {mode(p) for p in out.rglob("*") if p.is_file()} == {0o640}
    assert mode(out / "summary.csv") == 0o640


def test_the_cache_is_private(tmp_path: Path) -> None:
    from advisor.cache import DiscoveryCache

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o755)  # made by an earlier version: narrowed
    folder.chmod(0o755)
    cache = DiscoveryCache(folder, ttl=3600, key="k")
    report = {"live": True, "usable": True, "domain_ascii": "example.com"}
    assert cache.put("example.com", report)
    assert mode(folder) == 0o700
    assert mode(folder / "discovery") == 0o700
    assert mode(folder / "discovery" / "example.com.json") == 0o600
    assert cache.get("example.com") is not None


# ------------------------------------------------------------------ links in output folders


def export(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "export", ADDRESS, "--offline", "--out", str(out), *extra)


@pytest.mark.parametrize("planted", ["thunderbird", "README.txt", "outlook/gmx.com.prf"])
def test_export_never_writes_through_a_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    out = tmp_path / "out"
    link = out / planted
    link.parent.mkdir(parents=True)
    # A link to a folder, or to a file outside --out: --force must not help.
    link.symlink_to(elsewhere if planted == "thunderbird" else elsewhere / "precious")
    before = tree(out)
    code, _, err = export(capsys, out, "--force")
    assert code == 1
    assert err.count("\n") == 1
    # export's path check ("it would land outside") or the writer's ("symbolic link").
    assert "symbolic link" in err or "would land outside" in err
    assert str(link) in err or str(out / planted) in err or str(out) in err
    assert tree(elsewhere) == {"precious": b"keep me"}
    assert tree(out) == before  # nothing else was written either


@pytest.mark.parametrize("planted", ["thunderbird", "README.txt"])
def test_export_never_writes_through_a_link_that_stays_inside(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str
) -> None:
    """A link pointing inside --out lands inside it, and is still not followed: what it
    points to is not ours to replace."""
    out = tmp_path / "out"
    (out / "mine").mkdir(parents=True)
    (out / "mine" / "notes.txt").write_text("keep me")
    link = out / planted
    link.symlink_to(out / "mine" if planted == "thunderbird" else out / "mine" / "notes.txt")
    before = tree(out)
    code, _, err = export(capsys, out, "--force")
    assert code == 1
    assert err.count("\n") == 1
    assert "symbolic link" in err  # export's own path check, or the writer's
    assert str(link) in err
    assert tree(out) == before


def test_onboard_never_writes_through_a_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    staff = tmp_path / "staff.csv"
    staff.write_text(f"email,name\n{ADDRESS},Ana\nbo@gmx.com,Bo\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / ADDRESS).symlink_to(elsewhere)  # an employee folder that is a link
    args = ("onboard", str(staff), "--out", str(out), "--offline", "--cache-ttl", "0")
    code, stdout, _ = run_cli(capsys, *args)
    assert code == 1
    assert "symbolic link" in stdout
    assert list(elsewhere.iterdir()) == []
    assert (out / "bo@gmx.com" / "setup-sheet.html").is_file()  # the other row is done

    # Inside a finished employee folder: a file and a sub-folder replaced by links.
    (out / ADDRESS).unlink()
    code, _, _ = run_cli(capsys, *args)
    assert code == 0
    folder = out / "bo@gmx.com"
    sheet = folder / "setup-sheet.md"
    sheet.unlink()
    sheet.symlink_to(elsewhere / "sheet.md")
    (elsewhere / "sheet.md").write_text("keep me")
    code, stdout, _ = run_cli(capsys, *args, "--force")
    assert code == 1
    assert f"{sheet}: a symbolic link" in stdout
    assert tree(elsewhere) == {"sheet.md": b"keep me"}


# ------------------------------------------------------------------ all or nothing


def test_export_writes_every_client_or_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The second client's files cannot be written (a file stands where its folder goes):
    the first client's are not left behind."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "outlook").write_text("a file, not a folder")
    code, _, err = export(capsys, out)
    assert code == 1
    assert err.count("\n") == 1
    assert "cannot write" in err
    assert tree(out) == {"outlook": b"a file, not a folder"}


def test_a_failed_forced_export_puts_the_old_files_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, _, err = export(capsys, out, "--name", "Ana Old")
    assert code == 0, err
    before = tree(out)
    # The second client's profile cannot be replaced: a folder now stands in its place.
    prf = out / "outlook" / "gmx.com.prf"
    prf.unlink()
    prf.mkdir()
    before["outlook/gmx.com.prf"] = None
    code, _, err = export(capsys, out, "--name", "Ana New", "--force")
    assert code == 1
    assert "cannot write" in err
    after = tree(out)
    assert after == before  # Thunderbird's files hold "Ana Old" again; no staging left
    assert b"Ana Old" in after["thunderbird/user.js"]  # type: ignore[operator]


def test_the_writer_itself_refuses_links_for_every_command(tmp_path: Path) -> None:
    """fsutil, under export, the wizard, autoconfig and onboarding: whatever the caller
    checked, a link below the output folder is neither followed nor replaced."""
    from advisor.fsutil import LinkRefused, atomic_write, write_all

    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    (out / "real" / "file").write_text("keep me")
    (out / "folder").symlink_to(out / "real")
    (out / "file").symlink_to(out / "real" / "file")
    for target in (out / "folder" / "new.xml", out / "file"):
        with pytest.raises(LinkRefused):
            write_all({target: b"x", out / "other.txt": b"y"}, force=True, root=out)
        with pytest.raises(LinkRefused):
            atomic_write(target, b"x", root=out)
    assert sorted(p.name for p in out.rglob("*")) == ["file", "file", "folder", "real"]
    assert (out / "real" / "file").read_text() == "keep me"
