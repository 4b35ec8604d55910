"""The real wizard in a pseudo-terminal (24x80), typed at like a person, against the lab.

Each test builds a small mail domain (DNS zone, Dovecot, aiosmtpd) and runs
``python -m advisor`` in a pty with pexpect: Enter keeps a default, arrows and
space tick boxes, text is typed. Runs without a terminal use subprocess with
stdin from /dev/null.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.lab.servers import Lab

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[1]
ADDRESS = "jane@wiz.test"
TIMEOUT = 15  # seconds for any one expected text; discovery on loopback takes ~1 s
DOWN = "\x1b[B"


@pytest.fixture
def mail_domain(lab: Lab) -> Lab:
    lab.zone(
        "wiz.test",
        """
        @ MX 10 mx.wiz.test.
        _imaps._tcp SRV 0 1 993 imap.wiz.test.
        _submission._tcp SRV 0 1 587 smtp.wiz.test.
        """,
    )
    lab.dovecot("imap.wiz.test")
    lab.smtp("smtp.wiz.test", submissions=None)
    return lab


def environment(lab: Lab) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG")) and k != "NO_COLOR"
    }
    env.update(
        PYTHONPATH=str(ROOT),
        ADVISOR_DNS=lab.dns_spec,
        ADVISOR_CA_FILE=str(lab.ca_file),
        COLUMNS="80",
        LINES="24",
        TERM="xterm",
        LANG="C.UTF-8",
        # pexpect is no terminal emulator: it never answers prompt_toolkit's cursor
        # position request, which then waits for it before every question.
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    return env


@pytest.fixture
def spawn(mail_domain: Lab, tmp_path: Path) -> Iterator[object]:
    children: list[pexpect.spawn] = []

    def start(*args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "advisor", *args],
            env=environment(mail_domain),
            cwd=str(tmp_path),
            dimensions=(24, 80),
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.close(force=True)


NEEDS_EN = (
    "How many desktop computers",
    "How many laptops",
    "How many phones",
    "How many tablets",
    "shared by several people",
    "Calendars",
    "Contacts",
    "Tasks",
    "work with others",
    "away from the office",
    "Who is this mailbox for",
    "Microsoft 365 or an Exchange",
    "How big is the mailbox",
    "How much space",
    "without an Internet connection",
    "backed up regularly",
    "stay off other companies",
    "Which mail programs",
)
NEEDS_FR = (
    "Combien d'ordinateurs de bureau",
    "Combien d'ordinateurs portables",
    "Combien de téléphones",
    "Combien de tablettes",
    "partagés entre plusieurs",
    "Agendas",
    "Contacts",
    "Tâches",
    "Travaillez-vous avec",
    "hors du bureau",
    "À qui est destinée",
    "Microsoft 365 ou un serveur Exchange",
    "Quelle taille",
    "Quel espace",
    "sans connexion Internet",
    "sauvegardé régulièrement",
    "hors des serveurs",
    "Quels logiciels de messagerie",
)


RECAP = {False: "is everything right", True: "tout est-il juste"}


def answer_needs(child: pexpect.spawn, questions: tuple[str, ...]) -> None:
    """Every needs question with its default, ticking one more mail program."""
    for text in questions[:-1]:
        child.expect(text)
        child.send("\r")
    child.expect(questions[-1])
    child.send(DOWN)  # Thunderbird is ticked; move to Outlook and tick it
    child.send(" ")
    child.send("\r")
    child.expect(RECAP[questions is NEEDS_FR])  # every answer shown; Enter: continue
    child.send("\r")


def test_full_run_in_english(spawn: object, tmp_path: Path) -> None:
    child = spawn()  # type: ignore[operator]
    child.expect("Your e-mail address")
    child.send(ADDRESS + "\r")
    answer_needs(child, NEEDS_EN)
    child.expect("Recommended: IMAP")
    child.expect("Write the configuration files")
    child.expect_exact("(Y/n)")
    child.send("\r")
    child.expect_exact("Yes")
    child.expect("Files for which mail programs")
    child.send("\r")  # Thunderbird and Outlook, from the previous answer
    child.expect("Folder for the files")
    child.send("\r")
    child.expect("Your name")
    child.send("Jane Doe\r")
    child.expect("Next steps")
    child.expect("Save your answers")
    child.send("\r")
    child.expect("Answers file")
    child.send("\r")
    child.expect("Answers saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = tmp_path / "mail-setup-jane"
    assert (out / "README.txt").exists()
    assert (out / "thunderbird" / "wiz.test.xml").exists()
    assert (out / "outlook" / "wiz.test.prf").exists()
    assert "imap.wiz.test" in (out / "README.txt").read_text()
    assert "outlook" in (tmp_path / "advisor-answers.toml").read_text()


def test_typing_replaces_a_default_and_a_refused_answer(spawn: object, tmp_path: Path) -> None:
    child = spawn()  # type: ignore[operator]
    child.expect("Your e-mail address")
    child.send("jane@wiz\r")  # refused: a single-label domain
    child.expect("single label")
    # Starts empty: "jane@wizjane@wiz.test" would be refused again and stop here.
    child.send(ADDRESS + "\r")
    for text in NEEDS_EN[:-1]:
        child.expect(text)
        child.send("2\r" if text == "How many phones" else "\r")
    child.expect(NEEDS_EN[-1])
    child.send("\r")
    child.expect("is everything right")
    child.expect("How many phones\\? 2")  # the recap shows the typed answer
    child.send(DOWN * 3 + "\r")  # continue, desktops, laptops, phones: change it
    child.expect("How many phones")
    child.send("3\r")
    child.expect("is everything right")
    child.expect("How many phones\\? 3")
    child.send("\r")
    child.expect("Recommended: IMAP")
    child.expect("Write the configuration files")
    child.send("n")
    child.expect("Save your answers")
    child.send("\r")
    child.expect("Answers file")
    child.send("\r")
    child.expect("Answers saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    saved = (tmp_path / "advisor-answers.toml").read_text()
    assert "phone = 3\n" in saved  # typed over the default, then changed in the recap


def test_full_run_in_french(spawn: object, tmp_path: Path) -> None:
    child = spawn("--lang", "fr", "--no-color")  # type: ignore[operator]
    child.expect("Votre adresse")
    child.send(ADDRESS + "\r")
    answer_needs(child, NEEDS_FR)
    child.expect("Ce que la recherche a trouvé")
    child.expect("Recommandé.: IMAP")
    child.expect("Écrire maintenant")
    child.expect_exact("(O/n)")  # French keys: o for oui
    child.send("o")
    child.expect_exact("Oui")
    child.expect("Fichiers pour quels logiciels")
    child.send("\r")
    child.expect("Dossier")
    child.send("\r")
    child.expect("Votre nom")
    child.send("\r")
    child.expect("Enregistrer vos réponses")
    child.send("n")
    child.expect_exact("Non")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "mail-setup-jane" / "README.txt").exists()
    assert not (tmp_path / "advisor-answers.toml").exists()


def test_ctrl_c_leaves_nothing(spawn: object, tmp_path: Path) -> None:
    child = spawn("wizard")  # type: ignore[operator]
    child.expect("Your e-mail address")
    child.send(ADDRESS + "\r")
    child.expect("How many desktop computers")
    child.send("\r")
    child.expect("How many laptops")
    child.sendintr()
    child.expect("interrupted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not (tmp_path / "mail-setup-jane").exists()
    assert list(tmp_path.iterdir()) == []


def test_answers_file_without_terminal(mail_domain: Lab, tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('clients = ["apple-mail"]\n[devices]\nphone = 2\n')
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "wizard", ADDRESS, "--answers", str(answers)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(mail_domain),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "mail-setup-jane"
    assert (out / "apple" / "wiz.test.mobileconfig").exists()
    assert (out / "README.txt").exists()
    assert "already answered" in done.stdout


def test_missing_answer_without_terminal(mail_domain: Lab, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "advisor"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(mail_domain),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no terminal: give the address as an argument" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def unknown_domain(mail_domain: Lab) -> Lab:
    """nothing.test publishes nothing; its mail is at mailhost.test, which only the
    person knows."""
    lab = mail_domain
    lab.zone("nothing.test")
    users = {"jane@nothing.test": "correct horse"}
    lab.dovecot("imap.mailhost.test", users=users)
    lab.smtp("smtp.mailhost.test", users=users)
    return lab


def test_unknown_domain_typing_the_servers(
    unknown_domain: Lab, spawn: object, tmp_path: Path
) -> None:
    """Nothing found: the wizard offers to type the servers, with guessed defaults,
    probes them, writes the files and saves them with the answers."""
    child = spawn()  # type: ignore[operator]
    child.expect("Your e-mail address")
    child.send("jane@nothing.test\r")
    answer_needs(child, NEEDS_EN)
    child.expect("Incoming mail: nothing found")
    child.expect("discovery found no server for nothing.test")
    child.expect("What now")
    child.expect("type the IMAP and SMTP servers")
    child.send("\r")
    child.expect("Incoming mail server")
    child.expect_exact("imap.nothing.test:993:ssl")  # the guessed default, shown
    child.send("imap.mailhost.test:993:plain\r")  # refused, asked again
    child.expect("security must be ssl or starttls")
    child.send("imap.mailhost.test:993:ssl\r")
    child.expect("Outgoing mail server")
    child.expect_exact("smtp.nothing.test:465:ssl")
    child.send("smtp.mailhost.test:465:ssl\r")
    child.expect("Checking imap.mailhost.test:993:ssl, smtp.mailhost.test:465:ssl")
    child.expect("Incoming mail: IMAP imap.mailhost.test:993")
    child.expect("checked live, trusted certificate;")  # probed like a discovered one
    child.expect("given by you")
    child.expect("Write the configuration files")
    child.send("\r")
    child.expect("Files for which mail programs")
    child.send("\r")
    child.expect("Folder for the files")
    child.send("\r")
    child.expect("Your name")
    child.send("\r")
    child.expect("Next steps")
    child.expect("Save your answers")
    child.send("\r")
    child.expect("Answers file")
    child.send("\r")
    child.expect("Answers saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = tmp_path / "mail-setup-jane"
    xml = (out / "thunderbird" / "nothing.test.xml").read_text()
    assert "<hostname>imap.mailhost.test</hostname>" in xml
    assert "<hostname>smtp.mailhost.test</hostname>" in xml
    saved = (tmp_path / "advisor-answers.toml").read_text()
    assert '\n[servers]\nimap = ["imap.mailhost.test:993:ssl"]\n' in saved
    assert 'smtp = ["smtp.mailhost.test:465:ssl"]\nprotocol = "imap"\n' in saved


def test_unknown_domain_without_terminal_names_the_flags_and_saves(
    unknown_domain: Lab, tmp_path: Path
) -> None:
    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "advisor", "wizard", "jane@nothing.test", *extra],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=environment(unknown_domain),
            cwd=tmp_path,
            timeout=60,
            check=False,
        )

    done = run("--save-answers", "answers.toml", "--phones", "2")
    assert done.returncode == 1
    assert "--imap HOST:PORT:ssl|starttls" in done.stderr
    assert done.stderr.count("\n") == 1
    assert "phone = 2" in (tmp_path / "answers.toml").read_text()  # saved before failing
    assert not (tmp_path / "mail-setup-jane").exists()
    # The saved answers, with the servers added to them, finish the job.
    with (tmp_path / "answers.toml").open("a") as handle:
        handle.write('\n[servers]\nimap = "imap.mailhost.test:993:ssl"\n')
    done = run("--answers", "answers.toml", "--smtp", "smtp.mailhost.test:465:ssl")
    assert done.returncode == 0, done.stderr
    readme = (tmp_path / "mail-setup-jane" / "README.txt").read_text()
    assert "imap.mailhost.test" in readme


@pytest.mark.parametrize(
    ("lang", "intro", "advice"),
    [
        ("en", "quick set-up", "Recommended: IMAP"),
        ("fr", "configuration rapide", "Recommandé.: IMAP"),
    ],
)
def test_quick_writes_the_files_from_the_address_alone(
    spawn: object, tmp_path: Path, lang: str, intro: str, advice: str
) -> None:
    child = spawn("--lang", lang, "wizard", "--quick")  # type: ignore[operator]
    screen = io.StringIO()
    child.logfile_read = screen
    child.expect(intro)
    child.expect("adress|address")
    child.send(ADDRESS + "\r")
    child.expect(advice)  # no question about devices, programs, folder or name
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = tmp_path / "mail-setup-jane"
    assert (out / "thunderbird" / "wiz.test.xml").exists()
    assert (out / "outlook" / "wiz.test.prf").exists()
    assert (out / "apple" / "wiz.test.mobileconfig").exists()
    assert "imap.wiz.test" in (out / "README.txt").read_text()
    assert not (tmp_path / "advisor-answers.toml").exists()
    shown = screen.getvalue()
    assert "Next steps" in shown or "Et maintenant" in shown
    for question in (*NEEDS_EN, *NEEDS_FR, "Save your answers", "Enregistrer vos réponses"):
        assert question not in shown
