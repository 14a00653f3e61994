"""The check's newer findings and its precision, on texts written fresh for issue #17:
self-focus, pressure, voice and a repeated apology, each flagged where it should be and
silent on near misses; the precision cases the issue names; messages that are not
apologies; and a held-out labelled round (tests/data/apology/fresh.yaml)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mea_culpa import errors
from mea_culpa.apology import DEFAULT_MIN_SCORE, KINDS, PENALTY, CheckResult, check_text, is_apology

FRESH = Path(__file__).parent / "data" / "apology" / "fresh.yaml"


def categories(text: str, audience: str = "customer") -> set[str]:
    return {f.category for f in check_text(text, audience).findings}


def rules(text: str, audience: str = "customer") -> set[str]:
    return {f.rule for f in check_text(text, audience).findings}


# --- self-focus ------------------------------------------------------------------------

SELF_FOCUSED = [
    "I'm so sorry about the flooded kitchen. I've barely slept since Tuesday thinking about it.",
    "This whole mix-up has been really stressful for me, as I'm sure you can tell.",
    "Honestly, you have no idea how guilty I feel about missing your recital.",
    "I couldn't sleep last night after I saw how the invoice went out.",
    "I've been beating myself up about the wrong cake all weekend.",
    "I feel like such an idiot for double-booking your table.",
    "We're sorry the van didn't turn up. The last few days have been incredibly tough for our team.",
    "I'm absolutely gutted that I forgot to post your package.",
    "I feel terrible. I should have rung you before the engineer left.",
    "It's been eating me up inside that I missed your call.",
]
NOT_SELF_FOCUSED = [
    "You must have barely slept with the boiler off all night.",
    "I know the last few days have been stressful for you and the children.",
    "I feel terrible that you stood in the rain waiting for a driver who never came.",
    "We stayed late on Friday to restore every file you lost.",
    "It must have been a nightmare for your staff to handle all those calls.",
    "I can't imagine how upsetting it was to find your details on someone else's receipt.",
    "Your team worked through the night because of our mistake, and I'm sorry.",
    "I kept you up until 2am with that alarm, and I'm sorry.",
    "I'm sorry I embarrassed you in front of your manager.",
]


@pytest.mark.parametrize("text", SELF_FOCUSED)
def test_the_writers_own_feelings_in_place_of_the_readers_are_self_focus(text):
    assert "self-focus" in categories(text, "personal")
    assert "self-focus" in categories(text, "customer")


@pytest.mark.parametrize("text", NOT_SELF_FOCUSED)
def test_the_readers_feelings_and_a_feeling_tied_to_their_harm_are_not_self_focus(text):
    for audience in ("customer", "personal"):
        assert "self-focus" not in categories(text, audience)


def test_a_feeling_standing_alone_is_a_suggestion_and_suffering_a_warning():
    alone = check_text("I feel terrible.", "personal").findings
    assert [(f.category, f.level) for f in alone] == [("self-focus", "suggestion")]
    sleepless = [f for f in check_text("I've barely slept since.", "personal").findings if f.category == "self-focus"]
    assert [f.level for f in sleepless] == ["warning"]


# --- pressure ---------------------------------------------------------------------------

PRESSING = [
    "I've apologised twice already, so I hope we can leave it there.",
    "Look, it's time we both moved on from the parking thing.",
    "Can we please just put this behind us?",
    "I hope you'll accept my apology and let it go.",
    "What more do you want me to say?",
    "We consider your complaint closed.",
    "So we're good now?",
    "I've said I'm sorry more than once.",
    "You need to let this go.",
    "I hope that's the end of it.",
]
NOT_PRESSING = [
    "When you feel ready, I'd love to talk it through over coffee.",
    "I hope, in time, you'll be able to forgive me.",
    "Take as long as you need; I'm not going anywhere.",
    "Let's move your delivery to Saturday morning if that suits you better.",
    "I'll say it again to your face on Sunday: I'm sorry.",
    "We've moved past the worst of the backlog and your order ships today.",
    "There's no need to reply to this email.",
    "I hope you'll accept my apology.",
    "If you'd rather not talk about it yet, I understand.",
]


@pytest.mark.parametrize("text", PRESSING)
def test_pushing_the_reader_to_forgive_or_move_on_is_pressure(text):
    assert "pressure" in categories(text, "personal")
    assert "pressure" in categories(text, "customer")


@pytest.mark.parametrize("text", NOT_PRESSING)
def test_leaving_the_reader_time_or_asking_plainly_is_not_pressure(text):
    for audience in ("customer", "personal"):
        assert "pressure" not in categories(text, audience)


def test_a_demand_fails_the_apology_and_a_push_to_move_on_weighs_on_it():
    demand = check_text("I forgot our anniversary and I'm sorry. Accept my apology and drop it.", "personal")
    assert any(f.category == "pressure" and f.level == "error" for f in demand.findings)
    assert not demand.passes()
    push = check_text("I forgot our anniversary and I'm sorry. Let's move on.", "personal")
    assert [f.level for f in push.findings if f.category == "pressure"] == ["warning"]


def test_asking_for_forgiveness_still_counts_as_the_forgiveness_part():
    result = check_text("I hope you'll accept my apology.", "personal")
    assert result.components["forgiveness"] and "pressure" not in {f.category for f in result.findings}


# --- voice ------------------------------------------------------------------------------

TYPED_IN_A_HURRY = [
    ("For you, that meant their apps couldnt sync.", {"voice-third-person", "voice-missing-apostrophe"}),
    ("our api was down for 40 min", {"voice-lowercase-acronym"}),
    ("i know this ruined your evening", {"voice-lowercase-i"}),
    ("We should of checked the address twice.", {"voice-should-of"}),
    ("Sorry, we didnt send the sms reminder.", {"voice-missing-apostrophe", "voice-lowercase-acronym"}),
    ("We're sorry the customer's order arrived damaged; you should not have had to chase us.", {"voice-third-person"}),
    ("Im sorry for the mix-up with your keys.", {"voice-missing-apostrophe"}),
    ("For you, this meant they couldn't pay staff on Friday.", {"voice-third-person"}),
    ("The refund will show in your account, thats a promise.", {"voice-missing-apostrophe"}),
]
WRITTEN_WITH_CARE = [
    "For you, that meant your apps could not sync for 40 minutes.",
    "Our API was down for 40 minutes.",
    "The form is at example.com/api/help and the FAQ answers the rest.",
    "I should have checked, and I didn't.",
    "The courier told us their depot was closed, so we booked another one.",
    "Our customer team will ring you at 9.",
    "We could of course refund the whole order today.",
    "Your iPhone order is confirmed, i.e. it ships today.",
    "We sent your parcel to another customer's address.",
]


@pytest.mark.parametrize(("text", "expected"), TYPED_IN_A_HURRY)
def test_another_persons_voice_and_slips_of_the_keyboard_are_voice_findings(text, expected):
    for audience in ("customer", "personal"):
        found = rules(text, audience)
        assert expected <= found, (audience, found)


@pytest.mark.parametrize("text", WRITTEN_WITH_CARE)
def test_careful_text_has_no_voice_finding(text):
    for audience in ("customer", "personal"):
        assert "voice" not in categories(text, audience)


def test_voice_findings_point_at_the_line_and_column_of_each_slip():
    text = "Dear Ana,\n\nI'm sorry. our api was down for 40 min.\nFor you, that meant their apps couldnt sync.\n"
    found = {(f.rule, f.match, f.line, f.column) for f in check_text(text).findings if f.category == "voice"}
    assert ("voice-lowercase-acronym", "api", 3, 16) in found
    assert ("voice-missing-apostrophe", "couldnt", 4, 32) in found
    third = next(f for f in check_text(text).findings if f.rule == "voice-third-person")
    assert (third.line, third.column, third.level) == (4, 1, "warning")
    assert text[third.start : third.end] == third.match
    for f in check_text(text).findings:
        if f.rule in ("voice-lowercase-acronym", "voice-missing-apostrophe"):
            assert f.level == "suggestion"


def test_an_internal_note_may_speak_of_the_customer_in_the_third_person():
    note = "Team, for you this meant their dashboards were empty; the customer's data was never lost."
    assert "voice" not in categories(note, "internal")
    assert "voice" in categories(note, "customer")


# --- a repeated apology ---------------------------------------------------------------

REPEATED = [
    "Sorry about Friday. I'm so sorry I snapped. Again, I apologise.",
    "We apologise for the late delivery. Our apologies for the damaged box too. We're very sorry.",
    "I'm sorry. Truly sorry. Please accept my apology for the noise.",
    "Apologies for the late invoice. Sorry, it also had the wrong date. So sorry for the hassle!",
    "Sorry I missed your call.\n\nSorry again for the confusion about the dates.\n\nAnd sorry for the short notice.",
    "We're sorry your tickets didn't arrive. We apologise for the wait. Our apologies once more.",
    "Sorry. Sorry. Sorry.",
    "I apologised on the phone. I apologise again here. I'm sorry, and I'll say it in person too.",
]
NOT_REPEATED = [
    "I'm sorry. I ordered the wrong part, and the right one arrives Tuesday at no cost.",
    "Sorry, sorry, so sorry, the dog got out again and dug up your tulips.",
    "We're sorry. We double-charged your card, and the refund is on its way.",
    "Sorry about the mix-up. I've rebooked your table for Friday at eight.",
    "I apologise for the late reply; your question deserved an answer on Monday.",
    "Apologies. The wrong address was ours, and your parcel goes out again today.",
    "I'm sorry I forgot. I'll make it up to you on Saturday.",
    "No apology will give you the evening back, but I am sorry, and I'll cook on Friday.",
]


@pytest.mark.parametrize("text", REPEATED)
def test_an_apology_said_in_three_sentences_is_a_suggestion(text):
    found = [f for f in check_text(text, "personal").findings if f.rule == "padding-repeated-apology"]
    assert [f.level for f in found] == ["suggestion"]
    assert found[0].start > text.index(".")  # reported where the third one stands


@pytest.mark.parametrize("text", NOT_REPEATED)
def test_one_or_two_apologies_are_not_repeated(text):
    assert "padding-repeated-apology" not in rules(text, "personal")


# --- precision: what the issue saw raise the wrong finding ------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("We sent you the wrong charger. A new one is on its way and should be with you by Thursday.", "blame"),
        ("Inconvenience caused by the missed delivery is ours to fix: we've rebooked it for Saturday.", "blame"),
        ("We're sorry for the inconvenience caused by our late delivery on Friday.", "blame"),
        ("As outlined in our patient charter, appointments can sometimes move at short notice.", "blame"),
        ("You've worked incredibly hard on this bid and I let you down by sending the wrong figures.", "padding"),
        ("Payments and the website are working normally; only the app is affected.", "blame"),
    ],
)
def test_harmless_words_raise_no_such_finding(text, category):
    assert category not in categories(text)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("As outlined in our patient charter, appointments can sometimes move at short notice.", "justification"),
        ("The tour was operated by our partner coach company, so please contact them directly for compensation.", "blame"),
        ("As per the terms of your tenancy agreement, damp repairs are handled within 28 days.", "justification"),
        ("Sorry about the water damage. There wasn't much we could do on our side.", "justification"),
    ],
)
def test_vendor_blame_and_policy_shields_are_named(text, category):
    assert category in categories(text)


def test_there_wasnt_much_we_could_do_on_our_side_owns_nothing():
    result = check_text("Sorry about the water damage. There wasn't much we could do on our side.")
    assert result.components["responsibility"] is False
    assert "regret-only" in {f.category for f in result.findings}
    assert check_text("The delay was on our side, and I'm sorry.").components["responsibility"] is True


@pytest.mark.parametrize(
    ("text", "audience"),
    [
        ("Sorry we missed you this morning. I'll be there tomorrow at 8 sharp and the callout's free.", "customer"),
        ("Sorry I forgot to bring the bins in. I'll do them tonight.", "personal"),
        ("I'm sorry the gutters weren't finished. We'll do them on Saturday.", "customer"),
        ("The second visit is free, and our fitter will be with you first thing tomorrow.", "customer"),
    ],
)
def test_a_plain_repair_with_its_time_counts_as_repair(text, audience):
    assert check_text(text, audience).components["repair"] is True


# --- messages that are not apologies --------------------------------------------------

STATUS = "We are investigating reports that some customers cannot log in. Our next update will be here at 15:30."


def test_a_notice_is_not_scored_as_an_apology():
    as_apology = check_text(STATUS, kind="apology")
    as_notice = check_text(STATUS, kind="notice")
    assert as_apology.score < 60 and as_apology.tips
    assert as_notice.score == 100 and as_notice.tips == () and as_notice.passes()
    assert as_notice.kind == "notice" and as_notice.components == as_apology.components
    assert list(as_notice.to_dict()) == ["score", "components", "findings"]


def test_a_notice_is_still_checked_for_the_phrases_that_harm_any_message():
    text = "We apologise for any inconvenience. The outage was caused by our hosting provider."
    result = check_text(text, kind="notice")
    found = {f.category for f in result.findings}
    assert {"minimizing", "blame"} <= found
    assert "regret-only" not in found  # owning the fault is what an apology owes, not a notice
    assert result.score == 100 - sum(PENALTY[f.level] for f in result.findings) and not result.passes()


def test_an_unknown_kind_is_a_usage_error_naming_the_kinds():
    with pytest.raises(errors.UsageError) as caught:
        check_text("hello", kind="memo")
    assert all(kind in str(caught.value) for kind in KINDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (STATUS, False),
        ("FYI: the billing export moves to 03:00 on Sunday.", False),
        ("Sorry, we charged you twice.", True),
        ("We sent your order to the wrong address; that was our mistake.", True),
    ],
)
def test_is_apology_tells_an_apology_from_a_notice(text, expected):
    assert is_apology(text) is expected


# --- the held-out round ------------------------------------------------------------------


@lru_cache(maxsize=1)
def fresh() -> list[tuple[dict[str, Any], CheckResult]]:
    items = yaml.safe_load(FRESH.read_text(encoding="utf-8"))["items"]
    return [(item, check_text(item["text"], item["audience"], kind=item.get("kind", "apology"))) for item in items]


def test_the_fresh_round_has_acceptable_and_unacceptable_texts_and_every_new_category():
    items = [item for item, _ in fresh()]
    assert len(items) >= 25 and {True, False} == {item["acceptable"] for item in items}
    labelled = {c for item in items for c in item.get("categories") or ()}
    assert {"self-focus", "pressure", "voice", "blame", "justification"} <= labelled


def test_the_fresh_round_clears_the_corpus_bars():
    """The bars of tests/test_apology_corpus.py, on this round (in-sample now: its figures
    before the rules were tuned on it are in docs/apology-check.md)."""
    checked = fresh()
    accuracy = sum(r.passes(DEFAULT_MIN_SCORE) == i["acceptable"] for i, r in checked) / len(checked)
    labelled = [(c, r) for i, r in checked for c in i.get("categories") or ()]
    recall = sum(c in {f.category for f in r.findings} for c, r in labelled) / len(labelled)
    acceptable = [r for i, r in checked if i["acceptable"]]
    alarms = sum(any(f.level != "suggestion" for f in r.findings) for r in acceptable) / len(acceptable)
    assert (accuracy >= 0.90, recall >= 0.80, alarms <= 0.10) == (True, True, True), (accuracy, recall, alarms)


# --- the built-in examples' drafts ---------------------------------------------------------

NEW = {"self-focus", "pressure", "voice"}


def _drafts() -> list[tuple[str, str, str, str | None, str]]:
    from mea_culpa.messages import drafting as messages
    from test_messages import NOW, _builtin_cases, run_builtin

    drafts = []
    for playbook_id, message_id, tone, phase in _builtin_cases():
        playbook, session = run_builtin(playbook_id)
        message = playbook.message(message_id)
        if message not in messages.available(playbook, session):
            continue
        if tone == "light" and session.severity in messages.SERIOUS:
            continue
        text = messages.render(playbook, session, message_id, tone=tone, phase=phase, now=NOW).text
        drafts.append((playbook_id, message_id, tone, phase, text))
    return drafts


def test_no_new_finding_fires_on_the_good_drafts_of_the_built_in_examples():
    drafts = _drafts()
    assert len(drafts) >= 40
    fired = []
    for playbook_id, message_id, tone, phase, text in drafts:
        for audience in ("customer", "internal", "personal"):
            for f in check_text(text, audience).findings:
                if f.category in NEW or f.rule == "padding-repeated-apology":
                    fired.append((playbook_id, message_id, tone, phase, audience, f.rule, f.match))
    assert fired == []
