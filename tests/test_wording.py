"""Shaping what people type into what a draft says (mea_culpa.text.wording): each change where
it is sure, and the words left as typed where it is not."""

from __future__ import annotations

import pytest

from mea_culpa.text import filters as expressions
from mea_culpa.text import wording

# --- mend -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "mended"),
    [
        ("their apps couldnt sync", "their apps couldn't sync"),
        ("i should of said something sooner", "I should have said something sooner"),
        ("im sorry, ive no excuse", "I'm sorry, I've no excuse"),
        ("our api was down", "our API was down"),
        ("we recieved 3 pdfs", "we received 3 PDFs"),
        ("config pushed on friday", "config pushed on Friday"),
        ("after tuesdays clean", "after Tuesday's clean"),
        ("we clean on tuesdays and fridays", "we clean on Tuesdays and Fridays"),
        ("valid until 29 nov", "valid until 29 Nov"),
        ("from 1 december", "from 1 December"),
        ("our christmas campaign", "our Christmas campaign"),
    ],
)
def test_mend_fixes_what_is_sure(typed, mended):
    assert wording.mend(typed) == mended


@pytest.mark.parametrize(
    "typed",
    [
        "its lid was loose",  # "its" is a word
        "we were late, well after ten",  # "were" and "well" are words
        "you may need it in march",  # "may" and "march" are words away from a date
        "see api.example.com/api or mail api@example.com",  # addresses keep their case
        "i.e. the second one",
        "Biscuit got out",
    ],
)
def test_mend_leaves_words_that_may_be_meant(typed):
    assert wording.mend(typed) == typed


def test_sentence_and_clause_mend_too():
    assert expressions.sentence("i pushed it. my fault") == "I pushed it. My fault."
    assert expressions.clause("Couldnt sync.") == "couldn't sync"


# --- to_you -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("their apps couldnt sync", "your apps couldn't sync"),
        ("they missed their launch", "you missed your launch"),
        ("customers couldnt log in", "you couldn't log in"),
        ("customers who ordered on monday waited a week", "those of you who ordered on Monday waited a week"),
        ("some customers were charged twice", "some of you were charged twice"),
        ("people couldnt book and some missed the early price", "you couldn't book and some of you missed the early price"),
        ("she was charged twice and her account went overdrawn", "you were charged twice and your account went overdrawn"),
        ("he came home to a flooded floor", "you came home to a flooded floor"),
        ("send him the confirmation", "send you the confirmation"),
        ("we let her down", "we let you down"),
        ("their apps couldnt sync and some of their orders got stuck", "your apps couldn't sync and some of your orders got stuck"),
        ("his card was charged twice and he had to call the bank", "your card was charged twice and you had to call the bank"),
    ],
)
def test_to_you_reframes_the_people_affected(typed, said):
    assert wording.to_you(typed) == said


@pytest.mark.parametrize(
    "typed",
    [
        "the courier lost it and they never called",  # they: the courier
        "we copied the allergens by hand and nobody checked them",  # them: the allergens
        "give everyone who ordered a free drink on their next visit",  # their: everyone's
        "you searched the lanes for Biscuit, worried for her safety",  # her: Biscuit
        "she waits for the refund",  # "you waits": no sure verb form, left for the check
        "the tables and their legs were scratched",  # their: the tables'
        "the bank charged their account twice",  # their: could be the bank's
        "her order arrived late and she missed her daughters party",  # her: could be the daughter's
    ],
)
def test_to_you_leaves_pronouns_that_may_mean_someone_else(typed):
    assert wording.to_you(typed) == typed


def test_to_you_gives_an_answer_that_starts_with_a_verb_its_subject():
    assert wording.to_you("couldnt sync for 2 hours", True) == "you couldn't sync for 2 hours"
    assert wording.to_you("was charged twice", True) == "you were charged twice"
    assert wording.to_you("charged twice for one order", True) == "you were charged twice for one order"
    assert wording.to_you("lost sales for a day", True) == "lost sales for a day"  # a phrase stays one


# --- ours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("refund any double payment", "we will refund any double payment"),
        ("test every config change on staging", "we will test every config change on staging"),
        ("refunding everyone today", "we are refunding everyone today"),
        ("already refunded the fee", "we already refunded the fee"),
        ("a month free", "a month free"),
        ("refund of the delivery fee", "refund of the delivery fee"),
        ("we have refunded you", "we have refunded you"),
    ],
)
def test_ours_says_an_order_as_what_we_do(typed, said):
    assert wording.ours(typed) == said


def test_ours_contracts_and_speaks_for_the_sender_alone_when_asked():
    assert wording.ours("refund the fee", contract=True) == "we'll refund the fee"
    assert wording.ours("refund the fee", contract=True, person="I") == "I'll refund the fee"


def test_ours_in_the_past_reads_what_was_done():
    assert wording.ours("rolled back the config", "past") == "we rolled back the config"
    assert wording.ours("sent the wrong table", "past") == "we sent the wrong table"
    assert wording.ours("put the address field back", "past") == "we put the address field back"
    assert wording.ours("refund the fee", "past") == "refund the fee"  # an order is not a past event


# --- owned ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("i pushed the config without testing it. my fault", "I pushed the config without testing it. That was my fault."),
        ("we didnt check before we locked up, thats on us", "we didn't check before we locked up. That's on us."),
        ("our bad", "That was our mistake."),
        ("my fault, i pushed it", "That was my fault. I pushed it"),
        ("That was our mistake, and putting it right is on us.", "That was our mistake, and putting it right is on us."),
    ],
)
def test_owned_makes_a_fragment_of_ownership_a_sentence(typed, said):
    assert wording.owned(typed) == said


# --- unsaid -----------------------------------------------------------------------------


def test_unsaid_drops_the_clauses_an_earlier_answer_said():
    happened = "we charged her card twice for order 4471"
    assert wording.unsaid("she was charged twice for order 4471 and her account went overdrawn", happened) == "her account went overdrawn"
    assert wording.unsaid("we charged her card twice for order 4471, my mistake", happened) == "my mistake"
    assert wording.unsaid("10% off", "cancel the bill and take 10% off your next invoice") == ""


def test_unsaid_carries_the_subject_of_a_dropped_clause():
    said = wording.unsaid("we left the tap running and didnt check before we locked up", "left the kitchen tap running")
    assert said == "we left the tap running and didn't check before we locked up"
    said = wording.unsaid("you got a bill you did not owe and had to call us twice", "we sent you a bill you did not owe")
    assert said == "you had to call us twice"


def test_unsaid_keeps_what_only_shares_a_few_words():
    assert wording.unsaid("a year of free delivery", "the address saved last year, free of charge") == "a year of free delivery"
    assert wording.unsaid("your account went overdrawn", "") == "your account went overdrawn"


def test_unsaid_keeps_a_clause_and_the_one_it_leans_on_together():
    said = wording.unsaid(
        "the latch sticks in the cold, and when we pulled the gate shut, we did not check that it had caught",
        "we did not check that your gate was shut before we left",
    )
    assert said.endswith("when we pulled the gate shut, we did not check that it had caught")


# --- the small tests ----------------------------------------------------------------------


def test_says_when_finds_a_day_a_date_or_a_time():
    assert wording.says_when("we sent it on friday")
    assert wording.says_when("from 07:15 to 10:40")
    assert wording.says_when("delivered it on 9 nov")
    assert wording.says_when("we shipped it in december")
    assert not wording.says_when("our api was down for 40 min")
    assert not wording.says_when("we sent the december newsletter")


def test_reads_as_clause_tells_a_clause_from_a_phrase():
    assert wording.reads_as_clause("from 1 December, every change is tested")
    assert wording.reads_as_clause("we'll test every change")
    assert not wording.reads_as_clause("an uptime alert for the API")
