"""The recommendation: rules as data over needs and discovery facts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.needs import Client, Groupware, Microsoft, Needs, Organisation
from advisor.recommend import NAMES, recommend
from advisor.rules.loader import RuleError, RuleSet, load, load_dir

RULES = load(names=NAMES)


def facts(
    *,
    imap: bool = True,
    pop3: bool = True,
    exchange: bool = False,
    hosted: str = "none",
    hosted_by: str = "none",
    oauth: bool = False,
    conclusive: bool = True,
) -> dict[str, object]:
    def seen(offered: bool) -> str:
        # What discovery says: verified, or missing only where it could see the provider.
        return "verified" if offered else ("absent" if conclusive else "unknown")

    return {
        "offers.imap": imap,
        "offers.pop3": pop3,
        "offers.exchange": exchange,
        "offers.activesync": exchange,
        "seen.imap": seen(imap),
        "seen.pop3": seen(pop3),
        "seen.smtp": seen(imap or pop3),
        "seen.exchange": seen(exchange),
        "discovery.known": "verified" if imap or pop3 or exchange else "nothing",
        "discovery.unchecked": "" if conclusive else "dns",
        "discovery.conclusive": conclusive,
        "discovery.live": conclusive,
        "exchange.hosted": hosted,
        "provider.hosted_by": hosted_by,
        "provider.requires_oauth2": oauth,
    }


ONE_BACKED_UP_DESKTOP = Needs(desktops=1, phones=0, backed_up=True)
PHONE_AND_LAPTOP = Needs(desktops=0, laptops=1, phones=1)
M365_TEAM = Needs(
    desktops=1,
    laptops=1,
    phones=1,
    calendars=Groupware.SHARE,
    contacts=Groupware.SYNC,
    collaborative=True,
    organisation=Organisation.SMALL_BUSINESS,
    microsoft=Microsoft.MICROSOFT365,
)


@pytest.mark.parametrize(
    ("needs", "the_facts", "expected"),
    [
        # A single backed-up desktop on a POP-only provider.
        (ONE_BACKED_UP_DESKTOP, facts(imap=False), "pop3"),
        # ...and on a provider offering both, POP3 still fits it best.
        (ONE_BACKED_UP_DESKTOP, facts(), "pop3"),
        # A phone and a laptop on an IMAP provider.
        (PHONE_AND_LAPTOP, facts(pop3=False), "imap"),
        (PHONE_AND_LAPTOP, facts(), "imap"),
        # A Microsoft 365 organisation sharing calendars.
        (
            M365_TEAM,
            facts(exchange=True, hosted="microsoft365", hosted_by="microsoft365", oauth=True),
            "exchange",
        ),
        # On-premises Exchange in an enterprise, phones on ActiveSync.
        (
            Needs(
                laptops=1,
                phones=1,
                organisation=Organisation.ENTERPRISE,
                microsoft=Microsoft.EXCHANGE,
            ),
            facts(exchange=True, hosted="on-premises"),
            "exchange",
        ),
        # Shared calendars but no Exchange anywhere: IMAP (groupware elsewhere).
        (Needs(laptops=2, calendars=Groupware.SHARE, microsoft=Microsoft.NONE), facts(), "imap"),
        # A single desktop that is NOT backed up: IMAP keeps a copy on the server.
        (Needs(desktops=1, phones=0, backed_up=False), facts(), "imap"),
        # Over quota, one backed-up computer: POP3 moves mail off the server.
        (
            Needs(desktops=1, phones=0, backed_up=True, mailbox_size_gb=30, quota_gb=10),
            facts(),
            "pop3",
        ),
        # Discovery saw nothing (offline, filtered DNS): nothing is excluded by it.
        (PHONE_AND_LAPTOP, facts(imap=False, pop3=False, conclusive=False), "imap"),
    ],
)
def test_trade_offs(needs: Needs, the_facts: dict[str, object], expected: str) -> None:
    rec = recommend(needs, the_facts, RULES)
    assert rec.recommended == expected, [(c.protocol, c.score, c.excluded) for c in rec.ranking]
    assert rec.fired  # advice that explains itself
    best = rec.ranking[0]
    assert best.protocol == expected
    assert not best.excluded


def test_everything_excluded_means_no_recommendation() -> None:
    rec = recommend(Needs(), facts(imap=False, pop3=False, exchange=False), RULES)
    assert rec.recommended is None
    assert rec.confidence == 0.0
    assert all(c.excluded for c in rec.ranking)


def test_microsoft_365_caveats_reach_imap() -> None:
    rec = recommend(
        Needs(desktops=1, phones=1, microsoft=Microsoft.NONE),
        facts(exchange=False, hosted_by="microsoft365", oauth=True, conclusive=False),
        RULES,
    )
    imap = next(c for c in rec.ranking if c.protocol == "imap")
    assert {r.id for r in imap.caveats} >= {"oauth2-required", "smtp-basic-auth-retirement"}


def test_oauth2_only_provider_outside_microsoft_gets_a_general_caveat() -> None:
    rec = recommend(
        Needs(desktops=1, phones=1, microsoft=Microsoft.NONE),
        facts(exchange=False, hosted_by="none", oauth=True, conclusive=False),
        RULES,
    )
    imap = next(c for c in rec.ranking if c.protocol == "imap")
    ids = {r.id for r in imap.caveats}
    assert "oauth2-only-provider" in ids
    assert "oauth2-required" not in ids  # its text is about Microsoft 365


def test_new_outlook_and_on_premises_exchange_caveat() -> None:
    rec = recommend(
        replace(M365_TEAM, microsoft=Microsoft.EXCHANGE, clients=(Client.NEW_OUTLOOK,)),
        facts(exchange=True, hosted="on-premises"),
        RULES,
    )
    assert rec.recommended == "exchange"
    assert "new-outlook-no-on-premises-exchange" in {r.id for r in rec.ranking[0].caveats}


def test_pop3_keeps_a_copy_unless_one_backed_up_computer() -> None:
    assert recommend(ONE_BACKED_UP_DESKTOP, facts(), RULES).leave_on_server is False
    rec = recommend(Needs(desktops=1, phones=0, backed_up=False), facts(imap=False), RULES)
    assert rec.recommended == "pop3"
    assert rec.leave_on_server is True
    assert rec.keep_days == 14


# ------------------------------------------------------------- properties

device_kinds = st.sampled_from(["desktops", "laptops", "phones", "tablets"])
needs_strategy = st.builds(
    Needs,
    desktops=st.integers(0, 3),
    laptops=st.integers(0, 3),
    phones=st.integers(0, 3),
    tablets=st.integers(0, 2),
    shared_devices=st.booleans(),
    calendars=st.sampled_from(list(Groupware)),
    contacts=st.sampled_from(list(Groupware)),
    tasks=st.sampled_from(list(Groupware)),
    collaborative=st.booleans(),
    remote_work=st.booleans(),
    organisation=st.sampled_from(list(Organisation)),
    microsoft=st.sampled_from(list(Microsoft)),
    mailbox_size_gb=st.sampled_from([0.5, 5.0, 50.0]),
    quota_gb=st.sampled_from([0.0, 10.0]),
    offline=st.booleans(),
    backed_up=st.booleans(),
    data_residency=st.booleans(),
    clients=st.lists(st.sampled_from(list(Client)), max_size=3, unique=True).map(tuple),
).filter(lambda n: n.devices >= 1)  # answers with no device at all are refused
facts_strategy = st.builds(
    facts,
    imap=st.booleans(),
    pop3=st.booleans(),
    exchange=st.booleans(),
    hosted=st.sampled_from(["none", "microsoft365", "on-premises"]),
    hosted_by=st.sampled_from(["none", "microsoft365", "google", "example.net"]),
    oauth=st.booleans(),
    conclusive=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(needs_strategy, facts_strategy, device_kinds)
def test_adding_a_device_never_moves_the_advice_towards_pop3(
    needs: Needs, the_facts: dict[str, object], kind: str
) -> None:
    before = recommend(needs, the_facts, RULES)
    after = recommend(replace(needs, **{kind: getattr(needs, kind) + 1}), the_facts, RULES)
    if before.recommended != "pop3":
        assert after.recommended != "pop3"

    def pop3_lead(rec: object) -> int:
        scores = {c.protocol: c.score for c in rec.ranking}  # type: ignore[attr-defined]
        return scores["pop3"] - max(scores["imap"], scores["exchange"])

    assert pop3_lead(after) <= pop3_lead(before)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RuleSet]:
    """For each protocol, the shipped rules plus an IT policy that forbids it."""
    out = {}
    for protocol in ("exchange", "imap", "pop3"):
        folder = tmp_path_factory.mktemp(f"policy-{protocol}")
        (folder / "policy.toml").write_text(
            f'[[rule]]\nid = "forbid-{protocol}"\nwhen = "true"\nexclude = ["{protocol}"]\n'
            f'explain.en = "IT policy forbids {protocol}."\n'
            f'explain.fr = "La politique informatique interdit {protocol}."\n'
        )
        out[protocol] = load([folder], names=NAMES)
    return out


@settings(max_examples=300, deadline=None)
@given(needs_strategy, facts_strategy, st.sampled_from(["exchange", "imap", "pop3"]))
def test_an_excluded_protocol_is_never_recommended(
    policies: dict[str, RuleSet], needs: Needs, the_facts: dict[str, object], protocol: str
) -> None:
    rec = recommend(needs, the_facts, policies[protocol])
    assert rec.recommended != protocol
    assert all(c.excluded for c in rec.ranking if c.protocol == protocol)


# --------------------------------------------------------------- rule files


def write(folder: Path, text: str, name: str = "org.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


GOOD = """
[[rule]]
id = "forbid-pop3"
when = "true"
exclude = ["pop3"]
explain.en = "Our IT department forbids POP3."
explain.fr = "Notre service informatique interdit POP3."
"""


def test_policy_folder_overrides_and_adds(tmp_path: Path) -> None:
    write(tmp_path, GOOD + '\n[[rule]]\nid = "imap-baseline"\nenabled = false\n')
    rules = load([tmp_path], names=NAMES)
    ids = {r.id for r in rules.active()}
    assert "forbid-pop3" in ids
    assert "imap-baseline" not in ids  # switched off by id
    rec = recommend(ONE_BACKED_UP_DESKTOP, facts(), rules)
    assert rec.recommended != "pop3"
    pop3 = next(c for c in rec.ranking if c.protocol == "pop3")
    assert "forbid-pop3" in {r.id for r in pop3.excluded_by}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[rule]]\nid = "x"\nwhen = "true"\nscore = { imap = 1 \n',
            "org.toml:4: TOML syntax error",
        ),
        (
            GOOD.replace("exclude =", "exclud ="),
            "org.toml:5: rule 'forbid-pop3': unknown field 'exclud'",
        ),
        (
            GOOD.replace('when = "true"', 'when = "devicez.total > 1"'),
            "org.toml:4: rule 'forbid-pop3': when: unknown name 'devicez.total'",
        ),
        (
            GOOD.replace('when = "true"', 'when = "devices.total and"'),
            "org.toml:4: rule 'forbid-pop3': when:",
        ),
        (
            GOOD.replace('when = "true"', 'when = "backed_up >= 2"'),
            "org.toml:4: rule 'forbid-pop3': when:",
        ),
        (GOOD + GOOD, "org.toml:9: rule 'forbid-pop3': duplicate id (also at"),
        (
            GOOD.replace('exclude = ["pop3"]', 'exclude = ["smtp"]'),
            "org.toml:5: rule 'forbid-pop3': 'exclude' must be a list",
        ),
        (
            GOOD.replace('exclude = ["pop3"]', "score = { imap = 1000 }"),
            "org.toml:5: rule 'forbid-pop3': score.imap must be",
        ),
        (
            GOOD.replace('explain.fr = "Notre service informatique interdit POP3."', ""),
            "rule 'forbid-pop3': 'explain.fr' is missing",
        ),
        (
            GOOD.replace('id = "forbid-pop3"', 'id = "Forbid POP3"'),
            "org.toml:3: rule 'Forbid POP3': 'id' must be",
        ),
        (GOOD.replace('exclude = ["pop3"]', ""), "rule 'forbid-pop3': no effect"),
        ("[rules]\nx = 1\n", "org.toml:1: unknown table 'rules'"),
    ],
)
def test_bad_rule_files_give_file_line_and_rule(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    with pytest.raises(RuleError) as info:
        load_dir(tmp_path, names=NAMES)
    message = str(info.value)
    assert expected in message, message
    assert "\n" not in message


def test_duplicate_id_across_files_of_one_folder(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    with pytest.raises(
        RuleError, match=r"b\.toml:2: rule 'forbid-pop3': duplicate id \(also at .*a\.toml:2\)"
    ):
        load_dir(tmp_path, names=NAMES)


def test_shipped_rules_are_valid_and_bilingual() -> None:
    assert len(RULES.active()) >= 20
    for rule in RULES.active():
        assert rule.explain["en"]
        assert rule.explain["fr"]
        assert rule.explain["en"] != rule.explain["fr"]


def test_flag_help_lists_the_real_choices() -> None:
    from advisor import cli_needs

    def spelled(enum: type) -> str:
        return "|".join(m.value for m in enum)  # type: ignore[attr-defined]

    assert spelled(Groupware) == cli_needs.GROUPWARE
    assert spelled(Organisation) == cli_needs.ORGANISATION
    assert spelled(Microsoft) == cli_needs.MICROSOFT
    assert spelled(Client) == cli_needs.CLIENTS
    from advisor.needs import KEYS

    assert {key for *_, key, _help in cli_needs.NEED_FLAGS} == set(KEYS)


@settings(max_examples=100, deadline=None)
@given(needs_strategy)
def test_saved_answers_load_back_to_the_same_needs(needs: Needs) -> None:
    import tomllib

    from advisor.needs import apply, flatten, to_toml

    assert apply(Needs(), flatten(tomllib.loads(to_toml(needs)))) == needs
