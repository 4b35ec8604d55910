"""`advisor recommend` and `advisor rules` from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.lab.servers import Lab
from tests.test_discovery import run_cli

REPORT: dict[str, Any] = {
    "schema": "advisor.discovery/1",
    "address": "jane@pop.example",
    "domain": "pop.example",
    "incoming": [
        {
            "protocol": "pop3",
            "hostname": "pop.pop.example",
            "port": 995,
            "security": "ssl",
            "username": "jane@pop.example",
            "auth": ["USER"],
            "verified": True,
            "sources": ["srv"],
        },
    ],
    "outgoing": [],
    "exchange": None,
    "provider": None,
    "steps": [],
    "warnings": [],
    "elapsed_ms": 1.0,
    "live": True,
}


@pytest.fixture
def saved_report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT))
    return path


def recommend_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(capsys, "recommend", *args, "--json")
    assert err == ""
    return code, json.loads(out)


def test_from_saved_report_single_backed_up_desktop(
    capsys: pytest.CaptureFixture[str], saved_report: Path
) -> None:
    code, doc = recommend_json(
        capsys,
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--desktops",
        "1",
        "--phones",
        "0",
        "--backed-up",
    )
    assert code == 0
    assert doc["schema"] == "advisor.recommendation/1"
    assert doc["recommended"] == "pop3"
    assert 0 <= doc["confidence"] <= 1
    assert doc["confidence_label"] in {"high", "medium", "low"}
    ranking = {c["protocol"]: c for c in doc["ranking"]}
    assert ranking["imap"]["excluded"] is True
    assert ranking["imap"]["excluded_by"] == ["imap-not-offered"]
    assert {r["id"] for r in doc["rules"]} >= {"pop3-one-computer", "pop3-backed-up"}
    assert doc["pop3"] == {"leave_on_server": False, "keep_days": None}
    assert doc["needs"]["devices.total"] == 1
    assert doc["facts"]["offers.pop3"] is True


def test_answers_file_then_flags(
    capsys: pytest.CaptureFixture[str], saved_report: Path, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(
        'backed_up = true\nclients = ["thunderbird"]\n[devices]\ndesktop = 1\nphone = 0\n'
    )
    _, doc = recommend_json(
        capsys, "jane@pop.example", "--from-json", str(saved_report), "--answers", str(answers)
    )
    assert doc["needs"]["backed_up"] is True
    assert doc["pop3"]["leave_on_server"] is False
    # A flag wins over the file.
    _, doc = recommend_json(
        capsys,
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--answers",
        str(answers),
        "--no-backed-up",
    )
    assert doc["needs"]["backed_up"] is False
    assert doc["pop3"]["leave_on_server"] is True


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[devices]\ndesktop = -1\n", "devices.desktop = -1: out of range"),
        ('calendars = "sometimes"\n', "calendars = 'sometimes': expected none | sync | share"),
        ("colour = 3\n", "unknown answer 'colour'"),
        ("[devices]\nphone = 1\nbacked_up = true\n", "put the top-level answers before"),
        ("[devices\n", "answers.toml"),
        ("[devices]\ndesktop = 0\nphone = 0\n", "no device at all"),
    ],
)
def test_bad_answers_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], saved_report: Path, tmp_path: Path, content: str, words: str
) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(content)
    code, _out, err = run_cli(
        capsys,
        "recommend",
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--answers",
        str(answers),
    )
    assert code == 1
    assert words in err
    assert err.count("\n") == 1


def test_bad_flag_value(capsys: pytest.CaptureFixture[str], saved_report: Path) -> None:
    code, _, err = run_cli(
        capsys,
        "recommend",
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--clients",
        "pine",
    )
    assert code == 1
    assert "'pine' is not one of" in err


def test_not_a_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "r.json"
    bogus.write_text('{"schema": "something/1"}')
    code, _, err = run_cli(capsys, "recommend", "x@y.example", "--from-json", str(bogus))
    assert code == 1
    assert "not a discovery report" in err


def test_policy_folder_forbids_pop3(
    capsys: pytest.CaptureFixture[str], saved_report: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "it.toml").write_text(
        '[[rule]]\nid = "forbid-pop3"\nwhen = "true"\nexclude = ["pop3"]\n'
        'explain.en = "IT forbids POP3."\nexplain.fr = "Le service informatique interdit POP3."\n'
    )
    code, doc = recommend_json(
        capsys,
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--rules",
        str(policy),
        "--desktops",
        "1",
        "--phones",
        "0",
        "--backed-up",
    )
    assert code == 3  # POP3 was the only protocol offered: nothing can be recommended
    assert doc["recommended"] is None


def test_french_explanations(capsys: pytest.CaptureFixture[str], saved_report: Path) -> None:
    code, out, _ = run_cli(
        capsys,
        "recommend",
        "jane@pop.example",
        "--from-json",
        str(saved_report),
        "--lang",
        "fr",
        "--desktops",
        "1",
        "--phones",
        "0",
        "--backed-up",
    )
    assert code == 0
    assert "Recommandé\u202f: POP3" in out
    assert "Un seul ordinateur" in out


def test_language_before_the_command_applies_to_it(
    capsys: pytest.CaptureFixture[str], saved_report: Path
) -> None:
    args = ("jane@pop.example", "--from-json", str(saved_report), "--desktops", "1", "--backed-up")
    code, out, _ = run_cli(capsys, "--lang", "fr", "recommend", *args)
    assert code == 0
    assert "Recommandé\u202f: POP3" in out
    code, out, err = run_cli(capsys, "--lang", "de", "recommend", *args)
    assert code == 1
    assert out == ""
    assert err.strip() == "advisor: error: --lang 'de': expected en or fr"
    code, out, _ = run_cli(capsys, "recommend", *args)  # nothing carried over
    assert "Recommended: POP3" in out


def test_home_wording_without_rule_ids_or_scores_and_explain_shows_them(
    capsys: pytest.CaptureFixture[str], saved_report: Path
) -> None:
    args = ("jane@pop.example", "--from-json", str(saved_report), "--desktops", "1", "--backed-up")
    code, home, _ = run_cli(capsys, "recommend", *args, "--phones", "0")
    assert code == 0
    assert "Recommended: POP3 (confidence high)" in home
    assert "Why:\n  - One computer" in home
    assert "(pop3-one-computer)" not in home
    assert "score" not in home
    assert not re.search(r"^\s*[+-]\d", home, re.MULTILINE)
    code, expert, _ = run_cli(capsys, "recommend", *args, "--phones", "0", "--explain")
    assert code == 0
    assert "(pop3-one-computer)" in expert
    assert re.search(r"^\s*\+\d", expert, re.MULTILINE)
    assert "%)" in expert


def test_text_to_a_pipe_has_no_padding(
    capsys: pytest.CaptureFixture[str], saved_report: Path
) -> None:
    code, out, _ = run_cli(
        capsys, "recommend", "jane@pop.example", "--from-json", str(saved_report), "--desktops", "1"
    )
    assert code == 0
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert any(len(line) > 40 for line in lines)
    assert [line for line in lines if line != line.rstrip()] == []


def test_rules_check_and_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[1] / "rules"
    code, out, _ = run_cli(capsys, "rules", "check", str(shipped))
    assert code == 0
    assert out.startswith("ok: ")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.toml").write_text(
        '[[rule]]\nid = "x"\nwhen = "phones > 1"\nscore = { imap = 1 }\n'
        'explain.en = "a"\nexplain.fr = "b"\n'
    )
    code, out, err = run_cli(capsys, "rules", "check", str(bad))
    assert code == 1
    assert "x.toml:3: rule 'x': when: unknown name 'phones'" in err


def test_rules_check_reports_every_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    rule = 'explain.en = "a"\nexplain.fr = "b"\n'
    (bad / "a.toml").write_text(
        f'[[rule]]\nid = "a"\nwhen = "phones > 1"\nscore = {{ imap = 1 }}\n{rule}'
        f'[[rule]]\nid = "b"\nwhen = "true"\nscore = {{ smtp = 1 }}\n{rule}'
        f'[[rule]]\nid = "ok"\nwhen = "true"\nscore = {{ imap = 1 }}\n{rule}'
    )
    (bad / "b.toml").write_text("[[rule]\n")
    dup = f'[[rule]]\nid = "dup"\nwhen = "true"\nexclude = ["pop3"]\n{rule}'
    (bad / "c.toml").write_text(dup)
    (bad / "d.toml").write_text(dup)
    code, out, err = run_cli(capsys, "rules", "check", str(bad))
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert "a.toml:3: rule 'a': when: unknown name 'phones'" in lines[0]
    assert "a.toml:10: rule 'b': score: unknown protocol 'smtp'" in lines[1]
    assert "b.toml:1: TOML syntax error" in lines[2]
    assert "d.toml:1: rule 'dup': duplicate id (also at " in lines[3]
    assert lines[4] == "advisor: 4 error(s) in the rule files"
    # Elsewhere a rules folder's errors stay one line, with the count of the others.
    code, _, err = run_cli(capsys, "recommend", "x@gmail.com", "--offline", "--rules", str(bad))
    assert code == 1
    assert err.count("\n") == 1
    assert "(and 3 more: see advisor rules check)" in err
    code, out, _ = run_cli(capsys, "rules", "list", "--lang", "fr")
    assert code == 0
    assert "pop3-one-computer" in out
    assert "Un seul ordinateur" in out


@pytest.mark.lab
def test_recommend_runs_discovery_against_the_lab(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("team.test")
    lab.dovecot("imap.team.test")
    lab.smtp("smtp.team.test")
    code, doc = recommend_json(
        capsys,
        "a@team.test",
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
        "--laptops",
        "1",
        "--phones",
        "1",
    )
    assert code == 0
    assert doc["recommended"] == "imap"
    assert doc["facts"]["offers.imap"] is True
    assert doc["facts"]["discovery.conclusive"] is True
