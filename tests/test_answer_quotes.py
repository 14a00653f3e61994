"""At the question: the sentences of the drafts that will carry the answer just given,
found by drafting with and without it, and shown by the asker (here, the scripted one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mea_culpa.journal import memory_journal
from mea_culpa.messages import drafting
from mea_culpa.messages import quotes as previews
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Playbook
from mea_culpa.run import session as sm
from mea_culpa.run.asking import ScriptedAsker, attempts, back_to, skip_stage
from mea_culpa.run.runner import Review, Runner

REPO = Path(__file__).parent.parent
ANSWERS = Path(__file__).parent / "data" / "answers"
BUILTINS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yaml"))
NOW = "2026-11-21T15:00:00Z"


def builtin(playbook_id: str) -> Playbook:
    return load(REPO / "playbooks" / f"{playbook_id}.yaml")


def terse(playbook_id: str) -> dict:
    return answers_mod.load_file(ANSWERS / "terse" / f"{playbook_id}.yaml")


def walk(book: Playbook, answers: dict, **kw) -> tuple[sm.Session, ScriptedAsker]:
    """A whole run with the scripted asker and the drafts' quotes, as `start` runs it."""
    session, change = sm.new_session(book, session_id="2026-11-21-quotes", title="Quotes", now=NOW)
    journal = memory_journal()
    journal.apply(session, change)
    asker = ScriptedAsker(answers, **kw)
    final = Runner(book, session, journal, asker, quotes=previews.answer_quotes, clock=lambda: NOW).run()
    return final, asker


def quoted(asker: ScriptedAsker, step_id: str) -> list[list]:
    """For each time `step_id` was quoted: [(message id, sentences), ...]."""
    return [[(q.message_id, q.sentences) for q in quotes] for sid, quotes in asker.quotes if sid == step_id]


def answered(book: Playbook, values: dict) -> sm.Session:
    session, _ = sm.new_session(book, session_id="2026-11-21-quotes", title="Quotes", now=NOW)
    for step_id, value in values.items():
        step = book.step(step_id)
        assert step is not None, step_id
        session, _ = sm.set_answer(session, step, answers_mod.coerce(step, value), now=NOW)
    return session


def test_a_terse_impact_is_shown_as_the_apology_will_say_it_reframed():
    _, asker = walk(builtin("service-outage"), terse("service-outage"))
    # typed: "their apps couldnt sync and some of their orders got stuck"
    assert quoted(asker, "impact") == [[
        ("customer-apology", ("For you, that meant your apps couldn't sync and some of your orders got stuck.",)),
    ]]


def test_each_message_shows_its_own_join_of_the_same_answer():
    _, asker = walk(builtin("service-outage"), terse("service-outage"))
    assert quoted(asker, "workaround") == [[
        ("status-update", ("In the meantime, use the web dashboard for now.",)),
        ("social-post", ("We're on it; meanwhile, use the web dashboard for now.",)),
    ]]


def test_the_same_sentence_in_two_messages_is_shown_once():
    _, asker = walk(builtin("service-outage"), terse("service-outage"))
    (shown,) = quoted(asker, "explanation")
    assert shown == [("customer-apology", ("A config change broke the API.",))]


def test_choices_yes_no_and_to_dos_are_not_quoted():
    book = builtin("service-outage")
    _, asker = walk(book, terse("service-outage"))
    types = {book.step(step_id).type for step_id, _ in asker.quotes}
    assert types <= previews.QUOTED_TYPES
    assert {"severity", "still_happening", "first_notice", "apology_channels"}.isdisjoint(sid for sid, _ in asker.quotes)


def test_a_name_alone_on_its_line_is_not_shown_as_a_join():
    _, asker = walk(builtin("service-outage"), terse("service-outage"))
    assert quoted(asker, "sender_name") == []  # the sign-off says "Dan": nothing joined to it


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_what_is_shown_at_the_question_is_what_the_finished_draft_says(playbook_id):
    """Once every answer is in, each sentence a preview shows is a sentence of the draft,
    word for word, and no sentence shows an answer still to come."""
    book = builtin(playbook_id)
    final, asker = walk(book, terse(playbook_id))
    assert asker.quotes, "no answer of the terse walk was quoted"
    for step in book.steps:
        for quote in previews.answer_quotes(book, final, step.id):
            message = book.message(quote.message_id)
            phases = drafting.phases_for(message) or (None,)
            drafts = [drafting.render(book, final, message.id, phase=phase).text for phase in phases]
            said = {s for text in drafts for s in previews.sentences(text)}
            assert set(quote.sentences) <= said, (step.id, quote)
    for _, quotes in asker.quotes:
        for quote in quotes:
            assert all("qzxqv" not in sentence.casefold() for sentence in quote.sentences), quote


def test_an_answer_the_drafts_need_later_stands_in_so_the_join_shows_early():
    book = builtin("service-outage")
    # the apology prints the first-person statement, asked two stages later
    session = answered(book, {"severity": "major", "what_happened": "our api was down", "impact": "their apps couldnt sync"})
    quotes = previews.answer_quotes(book, session, "impact")
    assert [(q.message_id, q.sentences) for q in quotes] == [
        ("customer-apology", ("For you, that meant your apps couldn't sync.",)),
    ]


def test_a_draft_that_cannot_be_rendered_yet_shows_nothing(write):
    path = write(
        "count/playbook.yaml",
        """
        id: count
        title: Count
        summary: A note that prints a number asked after the text.
        version: "1"
        stages:
          - stage: facts
            steps:
              - {id: what_happened, type: text, prompt: What happened?}
              - {id: affected_count, type: number, prompt: How many?}
        messages:
          - {id: note, title: Note, template: note.j2}
        """,
    )
    write("count/note.j2", "{{ what_happened | sentence }} It reached {{ affected_count }} people.\n")
    book = load(path)
    early = answered(book, {"what_happened": "the export ran twice"})
    assert previews.answer_quotes(book, early, "what_happened") == ()
    later = answered(book, {"what_happened": "the export ran twice", "affected_count": 12})
    assert [q.sentences for q in previews.answer_quotes(book, later, "affected_count")] == [("It reached 12 people.",)]
    assert [q.sentences for q in previews.answer_quotes(book, later, "what_happened")] == [("The export ran twice.",)]


def test_a_message_the_session_does_not_offer_is_not_quoted():
    book = builtin("service-outage")
    # no one affected: no apology, and the status update does not read the impact
    session = answered(book, {"severity": "none", "what_happened": "our api was down for a minute at night"})
    assert all(q.message_id != "customer-apology" for q in previews.answer_quotes(book, session, "what_happened"))


def test_rephrasing_goes_back_to_the_quoted_answer_then_on_to_the_question():
    book = builtin("service-outage")
    answers = {
        **terse("service-outage"),
        "impact": attempts("their apps couldnt sync", "you couldn't sync your apps, and some orders got stuck"),
        "workaround": attempts(back_to("impact"), "use the web dashboard for now"),
    }
    final, asker = walk(book, answers)
    assert final.steps["impact"].value == "you couldn't sync your apps, and some orders got stuck"
    assert final.steps["workaround"].value == "use the web dashboard for now"
    assert asker.asked[asker.asked.index("impact"):][:3] == ["impact", "workaround", "impact"]
    assert [shown[0][1] for shown in quoted(asker, "impact")] == [
        ("For you, that meant your apps couldn't sync.",),
        ("For you, that meant you couldn't sync your apps, and some orders got stuck.",),
    ]


def test_skipping_the_stage_from_a_rephrased_answer_keeps_the_answer_it_had():
    book = builtin("service-outage")
    answers = {
        **terse("service-outage"),
        "impact": attempts("their apps couldnt sync", skip_stage("the rest can wait")),
        "workaround": attempts(back_to("impact")),
    }
    final, _ = walk(book, answers)
    assert final.stages["facts"].state == "skipped" and final.stages["facts"].reason == "the rest can wait"
    assert final.steps["impact"].value == "their apps couldnt sync"
    assert "workaround" not in final.steps


def test_a_review_after_a_quoted_answer_can_go_back_to_it():
    book = builtin("service-outage")
    answers = {**terse("service-outage"), "workaround": attempts("use the web dashboard", "order by phone on 01632 960412")}
    final, asker = walk(book, answers, reviews={"facts": [Review("edit", "workaround")]})
    assert final.steps["workaround"].value == "order by phone on 01632 960412"
    assert quoted(asker, "workaround")[-1][0] == ("status-update", ("In the meantime, order by phone on 01632 960412.",))


def test_the_sentences_of_a_draft_are_split_at_their_ends_and_lines():
    text = ('Subject: Sorry\n\nI\'m sorry. We sent it twice, e.g. to Ana.\nShe said "no." Then we fixed it!\n'
            "- By Friday: test it.\n- Owner: Dan")
    assert previews.sentences(text) == [
        "Subject: Sorry", "I'm sorry.", "We sent it twice, e.g. to Ana.", 'She said "no."', "Then we fixed it!",
        "- By Friday: test it.", "- Owner: Dan",
    ]

