"""Wording: what people type, shaped into what a draft says to the reader.

A stressed person answers "our api was down, their apps couldnt sync, refund any double
payment, my fault"; the draft needs "Our API was down", "your apps couldn't sync", "we'll
refund any double payment", "That was my fault". Each function here makes one kind of
change, and only where the change is safe: a word whose meaning it cannot be sure of is
left as typed, for the apology check (its `voice` finding) and the reader to catch.

Pure functions on strings, without Jinja: the message templates use them as filters
(registered in messages.FILTERS), and the shared `sentence` and `clause` filters mend the
text they are given with `mend`. docs/templates.md describes what each one does.
"""

from __future__ import annotations

import re
from typing import Any

# --- mending what was typed in a hurry ------------------------------------------------

# Contractions typed without their apostrophe. Only forms that are not words of their own
# ("its", "were", "well", "ill", "id", "lets", "wed", "shed" are, and stay as typed).
_CONTRACTIONS = {
    "arent": "aren't", "cant": "can't", "couldnt": "couldn't", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hasnt": "hasn't", "havent": "haven't", "isnt": "isn't",
    "mightnt": "mightn't", "mustnt": "mustn't", "neednt": "needn't", "shouldnt": "shouldn't",
    "wasnt": "wasn't", "werent": "weren't", "wont": "won't", "wouldnt": "wouldn't",
    "im": "I'm", "ive": "I've", "youre": "you're", "youve": "you've", "youll": "you'll", "youd": "you'd",
    "theyre": "they're", "theyve": "they've", "theyll": "they'll", "weve": "we've", "thats": "that's",
    "whats": "what's", "theres": "there's", "heres": "here's", "itll": "it'll", "wouldve": "would've",
    "shouldve": "should've", "couldve": "could've",
}
# Well-known misspellings that are never words themselves.
_MISSPELLINGS = {
    "recieve": "receive", "recieved": "received", "reciept": "receipt", "seperate": "separate",
    "seperately": "separately", "definately": "definitely", "occured": "occurred", "untill": "until",
    "accomodate": "accommodate", "wich": "which", "becuase": "because", "beacuse": "because",
    "thier": "their", "teh": "the", "alot": "a lot", "adress": "address", "tommorow": "tomorrow",
    "tommorrow": "tomorrow", "tomorow": "tomorrow", "calender": "calendar", "neccessary": "necessary",
    "necesary": "necessary", "truely": "truly", "wierd": "weird", "begining": "beginning",
    "beleive": "believe", "commited": "committed", "garantee": "guarantee", "guarentee": "guarantee",
    "noticable": "noticeable", "occurence": "occurrence", "prefered": "preferred", "refered": "referred",
    "recomend": "recommend", "relevent": "relevant", "responsability": "responsibility",
    "sincerly": "sincerely", "succesful": "successful", "sucessful": "successful", "appology": "apology",
    "appologise": "apologise", "appologize": "apologize",
    "inconvienence": "inconvenience", "inconvience": "inconvenience", "immediatly": "immediately",
    "imediately": "immediately", "writting": "writing", "payed": "paid", "acheive": "achieve",
    "arguement": "argument", "basicly": "basically", "enviroment": "environment", "goverment": "government",
    "independant": "independent", "knowlege": "knowledge", "mispelled": "misspelled", "occassion": "occasion",
    "persue": "pursue", "reccomend": "recommend", "remeber": "remember", "resturant": "restaurant",
    "schedual": "schedule", "shedule": "schedule", "suprise": "surprise", "threshhold": "threshold",
    "unfortunatly": "unfortunately", "unforunately": "unfortunately", "wether": "whether",
}
# Acronyms that are never ordinary words in lower case.
_ACRONYMS = {
    w.lower(): w
    for w in (
        "API", "APIs", "SMS", "PDF", "PDFs", "URL", "URLs", "VAT", "FAQ", "FAQs", "SSL", "DNS", "CDN", "CRM",
        "GDPR", "IBAN", "SKU", "SKUs", "CSV", "HTML", "SLA", "SEO", "CMS", "VPN", "SSO", "2FA", "MFA", "OTP",
        "UX", "QA", "HMRC", "IRS", "NHS", "CEO", "CTO", "CFO",
    )
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "may" and "march" are words too: they are capitalised only beside a day number.
_MONTHS = (
    "january", "february", "april", "june", "july", "august", "september", "october", "november",
    "december", "christmas", "easter",
)
_MONTHS_BESIDE_A_NUMBER = ("march", "may", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9%'’-]*")


def _keep_case(typed: str, replacement: str) -> str:
    """`replacement` with the capital of `typed`'s first letter, if it had one."""
    if typed[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


_SHOULD_OF = re.compile(r"\b(should|could|would|must|might)(n't)? of\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9%'’]*")
_NEXT_WORD = re.compile(r"\s+([A-Za-z0-9]+)")
# Words after which "tuesdays" is a plural ("on tuesdays and fridays"), not "tuesday's".
_AFTER_PLURAL = frozenset(["and", "or", "but", "on", "in", "at", "by", "for", "with", "from", "to", "until", "till", "before", "after", "about", "when"])
_I_FORMS = {"i": "I", "i'm": "I'm", "i've": "I've", "i'd": "I'd", "i'll": "I'll"}


def _in_an_address(text: str, start: int, end: int) -> bool:
    """Whether the word at text[start:end] is part of an address, a file name or a link
    ("api.example.com", "/api", "api@", "api-key"): it keeps its case."""
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    return before in "./@-_" or (after[:1] != "" and after[:1] in "/@-_") or (after[:1] == "." and after[1:2].isalnum())


def _mended_word(text: str, match: re.Match[str], previous: str) -> str:
    word = match.group(0)
    low = word.lower().replace("’", "'")
    if low in _CONTRACTIONS:
        return _keep_case(word, _CONTRACTIONS[low])
    if low in _MISSPELLINGS:
        return _keep_case(word, _MISSPELLINGS[low])
    if low in _I_FORMS:
        return _I_FORMS[low]
    if low in _ACRONYMS:
        return _ACRONYMS[low]
    following = _NEXT_WORD.match(text, match.end())
    if low in _DAYS or low.removesuffix("'s") in _DAYS:
        return word[:1].upper() + word[1:]
    if low.endswith("s") and low[:-1] in _DAYS:
        day = word[:1].upper() + word[1:-1]
        if following and following.group(1).lower() not in _AFTER_PLURAL:
            return day + "'s"  # "tuesdays clean" -> "Tuesday's clean"
        return day + word[-1]
    if low in _MONTHS:
        return word[:1].upper() + word[1:]
    if low in _MONTHS_BESIDE_A_NUMBER and (previous.isdigit() or (following and following.group(1).isdigit())):
        return word[:1].upper() + word[1:]
    return word


def mend(value: Any) -> str:
    """Text as typed in a hurry, mended where there is no doubt: contractions missing
    their apostrophe ("couldnt"), "should of", well-known misspellings ("recieved"), "i"
    alone, lowercase acronyms ("api"), and the names of days and months ("friday",
    "29 nov"). Everything else is left as typed."""
    text = "" if value is None else str(value)
    if not text:
        return text
    text = _SHOULD_OF.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} have", text)
    out: list[str] = []
    last = 0
    previous = ""
    for match in _TOKEN.finditer(text):
        if not _in_an_address(text, match.start(), match.end()):
            mended = _mended_word(text, match, previous)
            if mended != match.group(0):
                out.append(text[last : match.start()] + mended)
                last = match.end()
        previous = match.group(0)
    out.append(text[last:])
    return "".join(out)


_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|no|nr|ca|cf)\.)$", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"([.!?]['’\")]?\s+)([a-z])")


def capitalise_sentences(text: str) -> str:
    """The first letter of each sentence in capital, and nothing else changed."""
    if not text:
        return text
    text = text[0].upper() + text[1:]

    def upper(match: re.Match[str]) -> str:
        before = text[: match.start() + 1]
        if _ABBREVIATIONS.search(before):
            return match.group(0)
        return match.group(1) + match.group(2).upper()

    return _SENTENCE_BREAK.sub(upper, text)


# --- what kind of words an answer starts with ------------------------------------------

# Verbs a repair or a change typically starts with, in their base form: "refund any double
# payment" is an order to the reader until it says who does it.
_BASE_VERBS = frozenset(
    ["refund", "reimburse", "credit", "pay", "cover", "waive", "give", "send", "resend", "reship", "ship", "deliver", "redeliver", "replace", "swap", "exchange", "fix", "repair", "redo", "reprint", "reissue", "rebook", "book", "hold", "keep", "extend", "honour", "honor", "offer", "add", "take", "knock", "cancel", "void", "upgrade", "call", "ring", "email", "contact", "check", "test", "review", "train", "write", "change", "move", "set", "put", "make", "stop", "turn", "switch", "update", "install", "remove", "restore", "return", "collect", "pick", "tell", "let", "show", "bring", "buy", "provide", "arrange", "schedule", "require", "run", "use", "build", "label", "flag", "print", "archive", "ask", "warn", "agree", "double-check", "apply", "match", "hire", "limit", "lock", "split", "text", "phone", "post", "publish", "rewrite", "rebuild", "recheck", "retest", "verify", "confirm", "notify", "inform", "compensate", "absorb", "discount", "halve", "double", "introduce", "start", "begin", "get", "look", "drive", "visit", "clean", "dry", "replant", "rebake", "remake", "resupply", "restock", "apologise", "apologize", "explain", "meet", "talk", "follow"]
)
# Base verbs that are as often nouns: they lead an answer as a verb only when no noun
# phrase continues ("refund of the fee", "a credit on your account").
_NOUNS_TOO = frozenset(["credit", "refund", "discount", "test", "check", "review", "call", "change", "text", "email", "post", "update", "set", "swap", "exchange", "hold"])
_IRREGULAR_PAST = frozenset(
    ["sent", "gave", "paid", "took", "made", "got", "told", "kept", "wrote", "brought", "bought", "found", "ran", "rang", "sold", "spent", "held", "built", "lost", "left", "drove", "came", "went", "did", "had", "caught", "forgot", "broke", "chose", "fell", "froze", "hid", "knew", "meant", "met", "taught", "thought", "threw", "understood", "won", "woke", "wore", "lent", "dealt", "stood", "sat", "slept", "fed", "led", "mislaid", "misled", "overpaid", "undercut", "withheld"]
)
# The same in base form and past tense: read by what the answer is about.
_PAST_OR_BASE = frozenset(["put", "set", "cut", "let", "hit", "shut", "read", "spread", "quit", "split", "cost"])
_NOT_PAST = frozenset(
    ["need", "feed", "seed", "speed", "bed", "red", "shed", "hundred", "weed", "breed", "deed", "greed", "steed", "sled", "sacred", "naked", "wicked", "kindred", "rugged", "ragged", "beloved", "embed"]
)
_NOT_ING = frozenset(
    ["nothing", "something", "everything", "anything", "thing", "king", "ring", "spring", "string", "sing", "bring", "wing", "sting", "swing", "morning", "evening", "ceiling", "during", "wedding", "pudding", "icing", "earring"]
)
_MODALS = frozenset(
    ["could", "couldn't", "can't", "cannot", "can", "had", "have", "has", "were", "was", "got", "did", "didn't", "would", "wouldn't", "will", "won't", "may", "might", "must", "need", "needed", "should", "shouldn't", "haven't", "hasn't", "hadn't", "weren't", "wasn't", "don't", "doesn't", "also", "still", "already", "just"]
)
# What follows a word that starts a noun phrase rather than an order: "refund of", "test is".
_PHRASE_GOES_ON = frozenset(["of", "is", "was", "are", "were", "will", "would", "has", "have", "had", "and", "or", "but", "that", "which", "per", "'s"])
_PHRASE_GOES_ON_NOUN = _PHRASE_GOES_ON | frozenset(["to", "for", "on", "from", "at", "in", "with"])
# Words that show the word before them is a verb: an object, a particle, a number…
_OBJECT_STARTS = frozenset(
    ["a", "an", "the", "any", "all", "every", "each", "some", "both", "no", "this", "that", "these", "those", "their", "them", "your", "you", "our", "us", "my", "me", "his", "her", "him", "its", "it", "everyone", "everybody", "anyone", "someone", "nobody", "everything", "back", "up", "out", "off", "over", "down", "away", "around", "through", "again", "twice", "once", "too", "also", "to", "into", "on", "in", "at", "by", "for", "with", "from", "about", "after", "before", "until", "more", "less", "several", "many", "most", "few", "extra", "full", "not", "never"]
)


def _words(text: str) -> list[str]:
    return [m.group(0).lower().replace("’", "'") for m in _WORD.finditer(text)]


def _object_like(word: str | None) -> bool:
    if word is None:
        return False
    return word in _OBJECT_STARTS or word[:1].isdigit() or (word.endswith("ly") and len(word) > 4)


def lead(value: Any, *, tense: str = "future", strict: bool = True) -> str:
    """How an answer starts: "base" ("refund any double payment"), "past" ("rolled back the
    config"), "doing" ("refunding everyone"), "modal" ("couldnt log in", "will refund"), or
    "" when it starts with anything else (a subject, a noun phrase). With `strict`, a past
    form counts only before an object or a particle ("lost the order", not "lost sales").
    `tense` reads a word like "put" or "set" as past ("past") or as an order ("future")."""
    words = _words(mend(value).strip())
    if not words:
        return ""
    first, following = words[0], (words[1] if len(words) > 1 else None)
    if first in _MODALS:
        return "modal" if following is not None and following not in _PHRASE_GOES_ON else ""
    if first in _PAST_OR_BASE:
        if following is None or following in _PHRASE_GOES_ON:
            return ""
        return "past" if tense == "past" else "base"
    if first in _BASE_VERBS:
        goes_on = _PHRASE_GOES_ON_NOUN if first in _NOUNS_TOO else _PHRASE_GOES_ON
        return "base" if following is not None and following not in goes_on else ""
    past = first in _IRREGULAR_PAST or (first.endswith("ed") and len(first) > 3 and first not in _NOT_PAST)
    if past:
        if following is None or following in _PHRASE_GOES_ON:
            return ""
        return "past" if (not strict or _object_like(following)) else ""
    if first.endswith("ing") and len(first) > 4 and first not in _NOT_ING and _object_like(following):
        return "doing"
    return ""


def ours(value: Any, tense: str = "future", contract: bool = False, person: str = "we") -> str:
    """An answer that starts with a verb, said as what we do: "refund any double payment"
    -> "we will refund any double payment" (`contract`: "we'll"), "rolled back the config"
    -> "we rolled back the config", "refunding everyone" -> "we're refunding everyone".
    `tense="past"` is for what was done (what happened, the fix): an order there is left
    as typed. `person="I"` speaks for the sender alone (a personal note). Text that starts
    any other way is returned mended, as it was."""
    text = mend(value).strip()
    kind = lead(text, tense=tense, strict=tense != "past")
    if not kind or (kind == "base" and tense == "past"):
        return text
    text = text[0].lower() + text[1:]
    i = person.strip().lower() == "i"
    if kind == "base":
        return {(True, True): "I'll ", (True, False): "I will ", (False, True): "we'll ", (False, False): "we will "}[(i, contract)] + text
    if kind == "doing":
        return {(True, True): "I'm ", (True, False): "I am ", (False, True): "we're ", (False, False): "we are "}[(i, contract)] + text
    return ("I " if i else "we ") + text


# --- speaking to the reader --------------------------------------------------------------

# People other than the reader whom an answer may call "he", "she" or "they": where one is
# named, a pronoun may be theirs, and it is left as typed. Organisations can be "they"
# but not "he" or "she".
_OTHER_PEOPLE = re.compile(
    r"\b(?:courier|carrier|driver|vendor|partner|contractor|colleague|employee|manager|intern|technician|"
    r"engineer|plumber|electrician|builder|neighbour|neighbor|landlord|accountant|lawyer|doctor|nurse|vet|"
    r"husband|wife|son|daughter|mother|father|mum|dad|friend|boss|owner|dog|cat|horse|puppy|kitten)s?\b",
    re.IGNORECASE,
)
_OTHER_PARTIES = re.compile(
    r"\b(?:supplier|provider|bank|printer|agency|team|staff|police|insurer|host|shop|company|firm)s?\b",
    re.IGNORECASE,
)
_GROUP = (
    r"(?:customers|users|clients|readers|subscribers|members|guests|patients|people|folks|shoppers|buyers|"
    r"visitors|parents|students|families|diners|passengers|tenants|listeners|viewers|followers)"
)
_CLAUSE_START = r"(?:(?<=^)|(?<=[,;:] )|(?<=\band )|(?<=\bbut )|(?<=\bso )|(?<=\bthen ))"
_GROUP_RX = re.compile(
    _CLAUSE_START
    + r"(?:(?P<some>some|many|most|several|a few|all|none)(?: of)? (?:(?:our|the|those) )?"
    + r"|(?:(?:our|the|all our|all the|affected|the affected) )?)"
    + _GROUP
    + r"(?!['’])\b(?: (?P<who>who|with|that))?",
    re.IGNORECASE,
)
_SOME_RX = re.compile(_CLAUSE_START + r"(?P<some>some|many|most|several|a few)(?= (?P<next>[\w'’]+))", re.IGNORECASE)
# "he was" -> "you were"
_AGREE = {
    "was": "were", "is": "are", "has": "have", "does": "do", "doesn't": "don't", "wasn't": "weren't",
    "isn't": "aren't", "hasn't": "haven't",
}
_PLURAL_PRONOUNS = {
    "they": "you", "they're": "you're", "they've": "you've", "they'll": "you'll", "they'd": "you'd", "them": "you",
}
_POSSESSIVE = {"their": "your", "theirs": "yours", "themselves": "yourselves"}
# People an answer may mean by "they" or "their" other than the reader.
_SOMEONE_ELSE = frozenset(
    ["everyone", "everybody", "anyone", "anybody", "each", "someone", "somebody", "nobody", "whoever"]
)
_SINGULAR = {"his": "your", "him": "you", "himself": "yourself", "herself": "yourself"}
# Words ending in "s" that are not plural nouns (a plural before "they" may be what "they" is).
_NOT_PLURAL = frozenset(
    ["is", "was", "has", "does", "his", "its", "this", "us", "as", "yes", "plus", "less", "unless", "across", "always", "perhaps", "thus", "whereas", "besides", "hers", "theirs", "yours", "ours", "lots", "towards", "afterwards"]
)
# After these, "her" is the object ("we told her", "we let her down"); otherwise it owns
# the word that follows ("her order").
_AFTER_OBJECT_HER = _OBJECT_STARTS | frozenset(
    ["and", "or", "but", "so", "know", "was", "were", "is", "had", "has", "did"]
)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+")


def _names_someone(text: str) -> bool:
    """Whether the answer names someone (a word with a capital in mid-sentence that is not
    a day, a month or "I"): "she" or "her" may then be them."""
    for match in _CAPITALISED.finditer(text):
        if re.search(r"(?:^\s*|[.!?:]\s+)$", text[: match.start()]):
            continue  # the first word of a sentence
        word = match.group(0).lower()
        if word not in _DAYS and word not in _MONTHS and word not in _MONTHS_BESIDE_A_NUMBER and word != "i":
            return True
    return False


def to_you(value: Any, lead_with_you: bool = False) -> str:
    """An answer about the people affected, said to them: "their apps couldnt sync" ->
    "your apps couldn't sync", "customers who ordered" -> "those of you who ordered", "she
    was charged twice" -> "you were charged twice". Only what is sure changes: "they" and
    "them" before any other plural the answer mentions (which they might stand for), "he",
    "she" and "her" only where the answer names nobody, no pronoun at all where it names
    a courier or a colleague, and no "they" where it names a supplier or a bank. `lead_with_you`: an answer that starts
    with a verb gets its subject ("couldnt sync" -> "you couldn't sync")."""
    text = mend(value).strip()
    if not text:
        return text

    def group(match: re.Match[str]) -> str:
        some, who = match.group("some"), match.group("who")
        if some:
            said = "none of you" if some.lower() == "none" else f"{some} of you"
            return _keep_case(match.group(0), said + (f" {who}" if who else ""))
        if who:
            return _keep_case(match.group(0), f"those of you {who}")
        return _keep_case(match.group(0), "you")

    text = _GROUP_RX.sub(group, text)
    if not _OTHER_PEOPLE.search(text):
        text = _pronouns_to_you(text, plural_ok=not _OTHER_PARTIES.search(text))
    text = _SOME_RX.sub(lambda m: _some_of_you(m, text), text)
    if lead_with_you:
        first = (_words(text) or [""])[0]
        if first in _AGREE:  # "was charged twice" -> "you were charged twice"
            text = "you " + _AGREE[first] + text[len(first) :]
        elif lead(text, tense="past", strict=True) in ("past", "modal"):
            text = ("you were " if first in _DONE_TO_YOU else "you ") + text[0].lower() + text[1:]
    return text


def _pronouns_to_you(text: str, plural_ok: bool) -> str:
    singular_ok = not _names_someone(text) and not (
        re.search(r"\b(?:he|him|his)\b", text, re.I) and re.search(r"\b(?:she|her)\b", text, re.I)
    )
    matches = list(_WORD.finditer(text))
    out: list[str] = []
    last = 0
    seen_plural = False  # a plural before "they" or "them" may be what they stand for
    seen_people = False  # so may "everyone", for "their" too ("everyone who booked… their visit")
    reframed = False
    skip_next = False
    for index, match in enumerate(matches):
        if skip_next:
            skip_next = False
            continue
        word = match.group(0)
        low = word.lower().replace("’", "'")
        following = matches[index + 1] if index + 1 < len(matches) else None
        following_low = following.group(0).lower().replace("’", "'") if following else None
        replacement: str | None = None
        if low in _POSSESSIVE and plural_ok and not seen_people and (reframed or not seen_plural):
            # "their apps couldnt sync and some of their orders": once "their" is the
            # reader's, a later one is too; before that, a plural may own it ("the tables
            # and their legs").
            replacement = _POSSESSIVE[low]
        elif low in _PLURAL_PRONOUNS and plural_ok and not seen_plural and not seen_people:
            replacement = _PLURAL_PRONOUNS[low]
        elif singular_ok and low in _SINGULAR:
            replacement = _SINGULAR[low]
        elif singular_ok and low == "her":
            owns = following_low is not None and following_low not in _AFTER_OBJECT_HER and not following_low.endswith("ly")
            replacement = "your" if owns else "you"
        elif singular_ok and low in ("he", "she") and following is not None and following_low is not None:
            if following_low in _AGREE:  # "she was" -> "you were"
                out.append(text[last : match.start()] + _keep_case(word, "you") + text[match.end() : following.start()])
                out.append(_AGREE[following_low])
                last = following.end()
                skip_next = True
                reframed = True
                continue
            if lead(text[following.start() :], strict=False) in ("past", "modal"):
                replacement = "you"
        if replacement is not None:
            out.append(text[last : match.start()] + _keep_case(word, replacement))
            last = match.end()
            reframed = True
        elif low in _SOMEONE_ELSE:
            seen_people = True
        elif low.endswith("s") and len(low) > 3 and low not in _NOT_PLURAL and not low.endswith("'s"):
            seen_plural = True
    out.append(text[last:])
    return "".join(out)


def _some_of_you(match: re.Match[str], text: str) -> str:
    """ "…you couldn't book, and some missed the early price" -> "some of you missed": only
    after a clause whose subject is "you", and before a verb."""
    before = text[: match.start()]
    clause = re.split(r"[,;]\s+|\s+(?:and|but|so|then)\s+", before.strip())[-2:] if before.strip() else []
    said_to_you = any(re.match(r"(?:(?:some|many|most|all|those|none|a few|several) of )?you\b", c, re.I) for c in clause)
    if said_to_you and lead(text[match.end() :].strip(), strict=False) in ("past", "modal"):
        return f"{match.group('some')} of you"
    return match.group(0)


# Past forms that, leading an answer about the reader, were done to them: "charged twice"
# reads "you were charged twice", not "you charged twice".
_DONE_TO_YOU = frozenset(
    ["charged", "overcharged", "undercharged", "billed", "double-charged", "delayed", "stranded", "stuck", "forced", "misled", "misinformed", "refused", "denied", "locked"]
)


# --- owning it in a sentence --------------------------------------------------------------

# Ownership typed as a fragment: "my fault", "our bad", "totally on us"…
_BARE = re.compile(
    r"(?:(?:totally|all|completely|entirely|really|100%)\s+)?"
    r"(?:(?P<whose>my|our)\s+(?P<what>fault|mistake|error|bad|screw-?up|mess-?up|doing)|on\s+(?P<who>me|us))",
    re.IGNORECASE,
)
# …or as a whole clause glued to the last one with a comma: "…, thats on us".
_GLUED = re.compile(
    r"(?:that's|that\s+is|it's|it\s+is|this\s+is|that\s+was|it\s+was|this\s+was)\s+"
    r"(?:(?:totally|all|completely|entirely|really)\s+)?"
    r"(?:(?P<whose>my|our)\s+(?P<what>fault|mistake|error|bad|doing)|on\s+(?P<who>me|us))",
    re.IGNORECASE,
)
_PIECES = re.compile(r"(?<=[.!?])\s+|\s*[,;]\s+|\s+[-–—]\s+")


def _owning(fragment: re.Match[str]) -> str:
    if fragment.group("who"):
        return f"That's on {fragment.group('who').lower()}."
    whose, what = fragment.group("whose").lower(), fragment.group("what").lower()
    what = "mistake" if what in ("bad", "doing") or what.startswith(("screw", "mess")) else what
    return f"That was {whose} {what}."


def owned(value: Any) -> str:
    """A statement of responsibility whose ownership was typed as a fragment, made a
    sentence of its own: "i pushed the config without testing it. my fault" -> "I pushed
    the config without testing it. That was my fault."; "…, thats on us" -> "…. That's
    on us." Everything else is left as typed (mended)."""
    text = mend(value).strip()
    if not text:
        return text
    pieces: list[tuple[str, str]] = []  # (separator before it, piece)
    position, separator = 0, ""
    for match in _PIECES.finditer(text):
        pieces.append((separator, text[position : match.start()]))
        separator, position = match.group(0), match.end()
    pieces.append((separator, text[position:]))
    out = ""
    for separator, piece in pieces:
        bare = piece.strip().rstrip(".!?").strip()
        glued = separator.strip() in (",", ";", "-", "–", "—")
        fragment = _BARE.fullmatch(bare) or (_GLUED.fullmatch(bare) if glued else None)
        if fragment:
            out = (out.rstrip(" ,;-–—").rstrip(".!?") + ". ") if out else ""
            out += _owning(fragment)
        elif out.endswith(".") and not separator.strip():
            out += " " + piece
        elif out.endswith("."):  # after an ownership sentence, a new one starts
            out += " " + piece[:1].upper() + piece[1:]
        else:
            out += separator + piece
    return out.strip()


# --- saying each thing once ---------------------------------------------------------------

_STOP = frozenset(
    ["a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "by", "for", "with", "from", "as", "is", "was", "were", "are", "be", "been", "being", "it", "its", "this", "that", "these", "those", "we", "our", "us", "you", "your", "i", "my", "me", "he", "she", "they", "them", "their", "his", "her", "him", "there", "here", "not", "no", "nor", "did", "do", "does", "done", "have", "has", "had", "will", "would", "could", "should", "can", "can't", "couldn't", "didn't", "don't", "won't", "wasn't", "weren't", "which", "who", "whom", "what", "when", "where", "while", "also", "just", "very", "all", "any", "some", "more", "most", "much", "many", "then", "than", "into", "out", "up", "off", "over", "again", "once", "too", "only", "after", "before", "because", "if", "about", "get", "got"]
)
_SUBJECTS = frozenset(["we", "i", "you", "they", "he", "she"])
_RUN = 5  # words in a row that two answers share before the later one counts as repeating


def _stem(word: str) -> str:
    word = word.strip("'’").removesuffix("'s").removesuffix("’s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content(words: list[str]) -> list[str]:
    return [_stem(w) for w in words if w not in _STOP and (len(w) > 2 or any(c.isdigit() for c in w))]


def _repeats(piece: str, earlier_words: list[str], earlier_content: set[str], whole: bool) -> bool:
    """Whether a clause says again what the earlier answers said: four or more of its
    words that matter are there already, at least four in five; or it shares with them a
    run of words, two of which matter, that is five words long or most of the clause
    ("you got a bill you did not owe"); or, for a short answer of its own ("10% off"),
    the earlier ones say it word for word."""
    words = _words(piece)
    content = _content(words)
    if not content:
        return False
    covered = sum(1 for w in content if w in earlier_content) / len(content)
    if covered >= 0.8 and len(content) >= 4:
        return True
    earlier_text = f" {' '.join(earlier_words)} "
    if whole and f" {' '.join(words)} " in earlier_text:
        return True
    # the longest run of its words that the earlier answers have too
    longest = max(
        (
            j - i
            for i in range(len(words))
            for j in range(i + 1, len(words) + 1)
            if f" {' '.join(words[i:j])} " in earlier_text and len(_content(words[i:j])) >= 2
        ),
        default=0,
    )
    return bool(longest >= _RUN or longest >= 3 and longest >= 0.6 * len(words))


_CLAUSE_BREAK = re.compile(r"(?<=[.!?])\s+|\s*[,;]\s+(?:(?:and|so|but|plus)\s+)?|\s+(?:and|so|but|plus)\s+")
# A clause that starts with one of these leans on the next: the two stay or go together.
_LEANS_ON_NEXT = frozenset(["when", "because", "after", "before", "while", "if", "as", "since", "until", "although", "though", "once", "whenever"])


def unsaid(value: Any, *earlier: Any) -> str:
    """What an answer adds to the answers already quoted: each of its clauses that repeats
    them (most of its words are already there, or five words in a row) is left out, and
    an answer that only repeats comes out empty. `impact | unsaid(what_happened)` keeps
    "your account went overdrawn" from "she was charged twice for order 4471 and her
    account went overdrawn" when what happened was "we charged her card twice for order
    4471"."""
    text = mend(value).strip()
    before = " ".join(mend(e) for e in earlier if e is not None and not isinstance(e, (list, dict)) and str(e).strip())
    if not text or not before.strip():
        return text
    earlier_words = _words(before)
    earlier_content = set(_content(earlier_words))
    cuts = list(_CLAUSE_BREAK.finditer(text))
    pieces: list[tuple[str, str]] = []  # (separator before it, clause)
    position, separator = 0, ""
    for match in cuts:
        pieces.append((separator, text[position : match.start()]))
        separator, position = match.group(0), match.end()
    pieces.append((separator, text[position:]))
    joined: list[tuple[str, str]] = []
    for sep, piece in pieces:
        leaning = joined and (_words(joined[-1][1]) or [""])[0] in _LEANS_ON_NEXT and not re.search(r"[.!?]$", joined[-1][1])
        if leaning:
            joined[-1] = (joined[-1][0], joined[-1][1] + sep + piece)
        else:
            joined.append((sep, piece))
    pieces = joined
    out = ""
    subject = ""  # of a clause left out, for the next one if it shares it ("we left…, and didnt check")
    dropped = False
    for sep, piece in pieces:
        if _repeats(piece, earlier_words, earlier_content, len(pieces) == 1):
            dropped = True
            first = (_words(piece) or [""])[0]
            subject = piece.split()[0] if first in _SUBJECTS else ""
            continue
        if subject and lead(piece, tense="past", strict=False):
            piece = f"{subject} {piece}"
        subject = ""
        out += (sep if out else "") + piece
    return out.strip(" ,;") if dropped else text


# --- when --------------------------------------------------------------------------------

_MONTH_NAMES = "|".join(m for m in _MONTHS if m not in ("christmas", "easter"))
_WHEN = re.compile(
    rf"\b(?:{'|'.join(_DAYS)}s?|(?:in|on|since|from|until|till|by|of|early|late|last|this|next|mid) (?:{_MONTH_NAMES})"
    rf"|yesterday|today|tonight|last (?:night|week|month|weekend)"
    rf"|this (?:morning|afternoon|evening|week)|\d{{1,2}}[:.]\d{{2}}|\d{{1,2}} ?(?:am|pm)"
    rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:{'|'.join(_MONTHS_BESIDE_A_NUMBER)})"
    rf"|(?:{'|'.join(_MONTHS_BESIDE_A_NUMBER)}) \d{{1,2}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}})\b",
    re.IGNORECASE,
)


_CLAUSE_OPENERS = frozenset(
    ["we", "we'll", "we're", "we've", "we'd", "i", "i'll", "i'm", "i've", "you", "you'll", "you're", "your", "our", "my", "they", "their", "it", "it's", "this", "that", "there", "from", "since", "starting", "as", "after", "once", "now", "today", "tomorrow", "every", "each", "all", "no", "nothing", "anything", "everyone", "going", "next", "in", "by", "until"]
)


def reads_as_clause(value: Any) -> bool:
    """Whether an answer reads as a clause that can follow "So that it doesn't happen
    again," or "To put this right,": it starts with a subject or a time ("we'll test…",
    "from 1 December, every…"). Anything else ("an uptime alert for the API") is a phrase,
    which a draft puts after a colon instead."""
    words = _words(mend(value))
    return bool(words) and words[0] in _CLAUSE_OPENERS


def says_when(value: Any) -> bool:
    """Whether an answer says when: a day, a date, a time ("on friday", "29 nov", "in
    december", "at 07:15", "yesterday"; not "the december newsletter"). A draft adds the
    date of the mistake to an answer that does not."""
    return bool(_WHEN.search(mend(value)))
