"""`advisor --help` is printed from a lean copy of the app (no command options built):
it must be the very page the full app prints."""

from __future__ import annotations

import contextlib
import io

import pytest

from advisor import cli


def full_page(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        cli.app(args=list(args), standalone_mode=False)
    return out.getvalue()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_listing_is_the_full_apps_page(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([flag])
    assert info.value.code == 0
    page = capsys.readouterr().out
    assert page == full_page(flag)
    for command in ("discover", "recommend", "export", "onboard", "verify", "autoconfig"):
        assert f" {command} " in page


def test_commands_still_get_their_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["verify", "--help"])
    assert "--oauth-token-stdin" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("shell", "env", "expected"),
    [
        ("bash", {"COMP_WORDS": "advisor disc", "COMP_CWORD": "1"}, "discover"),
        ("zsh", {"_TYPER_COMPLETE_ARGS": "advisor ver"}, '"verify"'),
        (
            "fish",
            {"_TYPER_COMPLETE_ARGS": "advisor ex", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
            "export\t",
        ),
    ],
)
def test_shell_completion_names_the_commands(
    shell: str, env: dict[str, str], expected: str
) -> None:
    """What `advisor --install-completion` wires into each shell: the shell calls
    advisor back with these variables and reads the candidates."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [str(Path(sys.executable).with_name("advisor"))],  # the installed command
        env={**os.environ, "_ADVISOR_COMPLETE": f"complete_{shell}", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
