"""What an apology contains: the seven components, their weights per audience, and tips.

The weights follow the order the research supports (../shared/research/apology.md):
responsibility first (Lewicki et al. 2016), an offer of repair second, then regret,
explanation, named impact and concrete prevention, and a request for forgiveness last.
The exact numbers are a design choice; treat them as ordinal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mea_culpa.apology.patterns import PatternSet
from mea_culpa.apology.text import Document

COMPONENTS = (
    "responsibility",
    "repair",
    "regret",
    "explanation",
    "impact",
    "prevention",
    "forgiveness",
)

# Each audience's weights sum to 100. An internal note needs no "sorry" and no request for
# forgiveness; what it owes is ownership of the system, the facts, and the change that
# stops a repeat. A personal apology leans on remorse and repair; a long explanation there
# tends to sound like an excuse.
WEIGHTS: dict[str, dict[str, int]] = {
    "customer": {
        "responsibility": 30,
        "repair": 25,
        "regret": 10,
        "explanation": 10,
        "impact": 10,
        "prevention": 10,
        "forgiveness": 5,
    },
    "internal": {
        "responsibility": 30,
        "repair": 15,
        "regret": 0,
        "explanation": 20,
        "impact": 15,
        "prevention": 20,
        "forgiveness": 0,
    },
    "personal": {
        "responsibility": 30,
        "repair": 20,
        "regret": 15,
        "explanation": 5,
        "impact": 15,
        "prevention": 10,
        "forgiveness": 5,
    },
}

TIPS: dict[str, dict[str, str]] = {
    "customer": {
        "responsibility": 'Say in the first person what you did wrong: "we sent…", "that was our mistake".',
        "repair": "Offer a concrete remedy (refund, replacement, credit, a fix) with an amount or a date.",
        "regret": 'Say "I\'m sorry" or "we apologize" plainly, once.',
        "explanation": "Add one or two sentences on what happened and when, without excuses.",
        "impact": "Name what it cost them: the wasted hours, the missed delivery, the double charge.",
        "prevention": 'Name the change that stops a repeat, with an owner or a date; "we\'ll do better" does not count.',
        "forgiveness": "Optionally, ask for the chance to earn back their trust.",
    },
    "internal": {
        "responsibility": 'Own it as a team ("we shipped…", "our review missed…"), without naming a culprit.',
        "repair": "Say what was done to stop the damage: rolled back, restored, customers contacted.",
        "regret": "",
        "explanation": "Give the timeline and the contributing factors: what happened, when, and why.",
        "impact": "Give the scale: how many customers, orders or hours, and what they could not do.",
        "prevention": "List the follow-up actions, each with an owner and a date.",
        "forgiveness": "",
    },
    "personal": {
        "responsibility": 'Say what you did, in the first person: "I forgot…", "I was wrong to…".',
        "repair": "Offer to make it right in a concrete way: what you will do, and when.",
        "regret": 'Say "I\'m sorry" plainly, without "if" or "but".',
        "explanation": "One short sentence on what happened is enough; skip the excuses.",
        "impact": "Show you see what it did to them: the worry, the wasted evening, the embarrassment.",
        "prevention": "Say what you will do differently, specifically.",
        "forgiveness": "You may ask for forgiveness, without demanding it.",
    },
}


def _rx(*parts: str) -> PatternSet:
    """One word-bounded, case-folded alternation, matched through a `Document`.

    Every part is a literal phrase with bounded gaps, so that no part can backtrack
    beyond a few words. A part is read only when a text is first checked, and compiled
    only where the text can match it (see patterns.py).
    """
    return PatternSet(parts)


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_FIRST_PERSON = (
    r"(?:I|we|I've|we've|I'd|we'd|I have|we have|I had|we had|"
    r"our (?!(?:third-party|third party|external|outside|vendor|partner|supplier|courier|carrier|"
    r"provider|contractor)\b)(?:[\w-]+ ){0,2}?(?:team|teams|staff|system|systems|tool|software|script|process|"
    r"warehouse|store|shop|website|site|app|platform|billing|checkout|code|update|change|"
    r"release|job|automation|form|template|mailing|newsletter|campaign|department|office))"
)
# Up to two adverbs or auxiliaries between the subject and its verb: "we then mistakenly sent".
_SOFTENER = (
    r"(?: (?:\w+ly|also|then|just|had|have|has|all|both|somehow|again|already|ourselves|"
    r"myself|actually|ever|once|even)){0,2} "
)

# Verbs that admit a fault on their own: "we lost", "I forgot", "we got it wrong".
_FAULT_VERB = (
    r"(?:made (?:a|an|the|this|that|two|several|some) (?:[\w-]+ )?(?:mistake|mistakes|error|errors|mess|"
    r"blunder|bad call|wrong call)|messed up|screwed up|slipped up|mixed up|dropped the ball|"
    r"got (?:[\w']+ ){0,3}?wrong|let (?:you|the team|everyone|them|us|people|her|him) down|"
    r"broke|lost|deleted|forgot|forgotten|missed|overlooked|neglected|failed|overcharged|"
    r"double[- ]charged|double[- ]billed|double[- ]booked|misread|misunderstood|misconfigured|"
    r"mislabeled|mislabelled|misaddressed|misrouted|mishandled|misspelled|misquoted|"
    r"miscalculated|misjudged|misstated|leaked|exposed|ignored|skipped|caused|introduced|"
    r"should have|should've|shouldn't have|should not have|"
    r"(?:did not|didn't)(?! (?:mean|intend|want|think you|expect you))|"
    r"never(?! (?:meant|intended|wanted|thought|expected|received|got|heard|saw|knew|said|agreed|promised|asked|"
    r"had|stop|stopped|will|would|wanted|charge|charged|share|shared|sell|sold)\b)|"
    r"wasted|kept you waiting|was wrong|were wrong|was careless|were careless|rushed|"
    r"under-?estimated|over-?promised|over-?looked|wasn't careful|weren't careful|snapped|shouted|"
    r"yelled|lied|insulted|interrupted|humiliated|dismissed|spoke over|talked over|blamed|"
    r"cut you off|was late|were late|was rude|was unkind|was harsh|was out of line|was unfair|"
    r"was short with|were rude|were unfair|stood you up|bailed|flaked|"
    r"overwrote|wiped|corrupted|crashed|took down|knocked out|fell short|came up short|"
    r"overslept|lost track|lost my temper|raised my voice|hurt|upset|embarrassed|offended|"
    r"disrespected|betrayed|broke (?:my|our) (?:promise|word)|"
    r"(?:wasn't|weren't|was not|were not) (?:prepared|ready|careful|clear|honest|upfront|"
    r"transparent|paying attention|listening|thorough|there|available))"
)
# Verbs that are neutral until the sentence says something went wrong: "we sent" + "wrong".
_NEUTRAL_VERB = (
    r"(?:sent|emailed|mailed|shipped|delivered|charged|billed|invoiced|published|posted|"
    r"released|pushed|deployed|launched|shared|forwarded|copied|attached|included|gave|told|"
    r"quoted|listed|printed|scheduled|booked|cancell?ed|canceled|closed|changed|updated|"
    r"removed|moved|used|put|set|ran|switched|applied|processed|packed|addressed|labell?ed|"
    r"entered|typed|added|uploaded|promised|said|wrote|approved|merged|configured|rolled out|"
    r"assigned|took|kept|left|picked|selected|exported|imported|pasted|chose|turned off|"
    r"disabled|reused|signed off on|reviewed|let|made|ran|wrote|built|rolled|started|read|"
    r"brought|sold|showed|shown|drove|paid|hit|spoke|opened|looked|went|came|forgot|"
    r"(?!(?:apologi[sz]|notic|reali[sz]|receiv|learn|discover|identifi|detect|want|need|hop|"
    r"believ|appreciat|valu|tri|worked|investigat|contact|refund|replac|revers|correct|fix|"
    r"restor|resolv|credit|recall|notifi|inform|alert|reach|call|offer|decid|expect|plan|"
    r"finish|complet|deliver|escalat|confirm|regrett|stopp|paus|rais|review|monitor|"
    r"look|ask|add|updat|chang|ensur|introduc|implement|enabl|install|schedul|book|check|examin|"
    r"verifi|analys|analyz|trac|research|explor|follow|report|warn|explain|confirm)ed\b)"
    r"[a-z]{2,20}ed)"
)
_FAULT_MARKER = _rx(
    r"wrong(?:ly)?",
    r"incorrect(?:ly)?",
    r"by (?:mistake|accident)",
    r"in error",
    r"accidentally",
    r"mistakenly",
    r"inadvertently",
    r"erroneously",
    r"unintentionally",
    r"carelessly",
    r"twice",
    r"two times",
    r"double",
    r"duplicate[sd]?",
    r"without (?:checking|testing|a review|review|reviewing|approval|verifying|asking|"
    r"permission|consent|your consent|notice|a test|double-checking|looking)",
    r"before (?:checking|testing|it was ready|reviewing|anyone)",
    r"too (?:early|late|soon|quickly)",
    r"instead of",
    r"broken",
    r"bad",
    r"faulty",
    r"buggy",
    r"flawed",
    r"corrupt(?:ed)?",
    r"dead",
    r"broke",
    r"crashed",
    r"took down",
    r"knocked out",
    r"wiped",
    r"outdated",
    r"unfinished",
    r"untested",
    r"(?:not|never|only|hadn't|had not|wasn't|was not|weren't|were not|hasn't|has not) (?:been )?"
    r"(?:tested|checked|reviewed|proofread|approved|verified)",
    r"typo",
    r"not (?:working|ready|tested|reviewed|checked|meant)",
    r"another (?:[\w-]+ )?(?:customer|person|client|company|shopper|user|member|patient|guest|"
    r"family|household|account|recipient|subscriber|buyer|student|parent|employee|address|"
    r"order|team|department)",
    r"to (?:another|other|a different|someone else|the whole|everyone|all of)",
    r"(?:had|have|\w+'d) (?:already )?(?:cancell?ed|canceled|paid|returned|unsubscribed|opted out|"
    r"told us|asked us|closed)",
    r"(?:didn't|did not|never) (?:order|ask for|agree|sign up|consent)",
    r"without (?:asking|permission|your permission|checking|telling)",
    r"without (?:first |properly |fully |ever )?(?:running|trying|testing|checking|reviewing|verifying|validating|"
    r"confirming|rehearsing|double-checking|proofreading|reading|looking at|warning|telling|asking|notifying|"
    r"informing|consulting|crediting|thanking|mentioning|backing up|saving)",
    r"(?:and|but) (?:they|it|that|this|he|she|those|these) (?:aren't|isn't|wasn't|weren't|won't|"
    r"doesn't|don't|didn't|is not|are not|was not|were not|will not)(?=[.,;:!]| (?:true|correct|right|"
    r"accurate|the case|free|included|available)\b)",
    r"(?:wasn't|weren't|was not|were not|hadn't been|had not been) (?:[\w]+ly )?(?:cleared|agreed|approved|"
    r"signed off|confirmed|checked|authori[sz]ed|discussed)",
    r"without (?:a |an |any |enough |proper |the )?(?:[\w-]+ )?(?:check|checks|checking|test|tests|testing|"
    r"review|reviewing|plan|backup|approval|warning|notice|safeguard|second look|sign-off|proofread|"
    r"proofreading|way back|thinking|looking|reading|confirming|confirmation)",
    r"(?:that|which) (?:[\w]+ly )?(?:disabled|broke|deleted|stopped|blocked|removed|exposed|leaked|"
    r"crashed|corrupted|wiped|locked|prevented|hid|overwrote|emptied|cancell?ed|dropped|lost|skipped|"
    r"duplicated|doubled|erased|cleared|reset|truncated|stripped|omitted|excluded|ignored|killed|froze|"
    r"slowed|rejected|double-charged|overcharged|mixed up|swapped|scrambled|garbled|wiped out|took down)",
    r"without(?! (?:charge|cost|delay|fee|fees|hesitation|question|fail|further|any (?:charge|cost|fee|delay|fuss)|"
    r"a (?:hitch|charge|fee))\b)",
    r"(?:no|any) right",
    r"someone else",
    r"the wrong",
    r"a different",
    r"mistake",
    r"error",
    r"bug",
    r"caused",
    r"missing",
    r"late",
    r"old",
    r"stale",
    r"should(?:n't| not)? have",
    r"(?:was|were)n't supposed",
    r"never (?:meant|intended)",
)

_DEFINITE_RESPONSIBILITY = _rx(
    r"(?:my|our) (?:own )?(?:mistake|mistakes|fault|error|errors|oversight|doing|bad|blunder|"
    r"mess|mix-up|mixup|slip|slip-up|failure|screw-up|screwup|miss|call|decision|misstep)",
    r"(?:I|we) (?:fully |completely |entirely |personally )?(?:take|accept|own|bear|claim|"
    r"taking|accepting) (?:full |complete |total |sole |entire |all )?(?:the )?"
    r"(?:responsibility|ownership|blame|accountability)",
    r"(?:I|we) own (?:this|that|it|the mistake|the error|this mistake|that mistake)",
    r"(?:I am|I'm|we are|we're) (?:fully |completely |entirely |solely |the one )?"
    r"(?:responsible|accountable|to blame|at fault)",
    r"(?:is|was|\w+'s|are|were) (?:all |entirely |squarely |completely |totally |firmly |100% )?"
    r"on (?:me|us)",
    r"(?:mistake|fault|error|oversight|blame|responsibility|gap|failure|call|decision|miss|cause|"
    r"root cause|problem|issue|lapse|slip|delay|breach)"
    r"(?: here| of (?:this|that|it|the [\w-]+))? (?:is|was|lies|lay|rests|rested|"
    r"sits|sat) (?:entirely |all |solely |squarely |fully |firmly |clearly )?(?:mine|ours|with (?:me|us|"
    r"(?:my|our) (?:own )?(?:team|side|end|office|company|firm|shop|store|department)))",
    # "Unforeseen circumstances came up on our end" places a cause, it does not own one, and
    # "there wasn't much we could do on our side" disowns it.
    r"(?<!came up )(?<!arose )(?<!cropped up )(?<!happened )(?<!occurred )(?<!do )(?<!done )(?:on|from) (?:my|our) "
    r"(?:end|side|part)",
    r"(?:I|we) (?:was|were) (?:[a-z]{2,12}ly )?(?:the ones? )?responsible for",
    r"(?:the|that|this|which|it) (?:[\w-]+ ){0,2}?(?:was|is|were|are) (?:all |entirely |wholly |squarely |"
    r"completely |totally |100% )?(?:mine|ours)(?! (?:too|as well|to (?:keep|enjoy|have|use))\b)",
    r"(?:was|were|is) (?:all )?(?:my|our) (?:own )?(?:merge|change|commit|push|deploy|deployment|release|edit|"
    r"typo|script|config|doing|code|slip|call|decision|oversight)",
    r"(?:nobody|no one|no-one|none of us|neither of us) (?:on|in|at) (?:our|my|the) (?:[\w-]+ )?"
    r"(?:team|staff|side|end|office|desk|shift) (?:[a-z]{2,12}ly )?(?:caught|noticed|checked|spotted|saw|"
    r"flagged|tested|reviewed|caught|followed up|picked (?:it|this|that) up)",
    r"(?:is|was|\w+'s|are|were) (?:all |entirely |squarely |completely |totally |wholly |100% )?down to "
    r"(?:me|us|my|our)",
    r"(?:I|we)(?:'d|'ve| had| have)? (?:[a-z]{2,20}ly )?[a-z]{2,20}ed (?:[\w'-]+ ){0,8}?(?:and|but) (?:then )?"
    r"(?:didn't|did not|never|forgot to|failed to|neglected to|not)(?! (?:mean|intend|want|think|expect|know|"
    r"only|just|yet|because)\b)",
    r"(?:change|update|upgrade|setting|script|migration|release|deploy|deployment|fix|edit|command|import|"
    r"configuration|config) (?:that )?(?:we|I)(?:'d| had)? (?:made|ran|pushed|shipped|deployed|released|installed|"
    r"applied|started|wrote|rolled out|merged|scheduled) (?:[\w'-]+ ){0,4}?(?:caused|triggered|broke|led to|"
    r"took down|knocked out|resulted in|deleted|wiped|stopped|blocked|crashed|corrupted|sent|charged)",
    r"(?:sorry|apologi[sz]e|apologies|ashamed|embarrassed) (?:for|about|of) (?:what|the things|everything|the way|"
    r"how) (?:I|we) (?:said|did|wrote|posted|sent|told|behaved|acted|spoke|treated|handled|reacted|talked)",
    r"(?:my|what I|the) (?:comment|comments|remark|remarks|joke|jokes|words|message|email|post|reply|tone|"
    r"behaviou?r|outburst) (?:(?:about|on|at|to) (?:[\w']+ ){1,3}?)?(?:was|were) (?:rude|unkind|hurtful|mean|cruel|"
    r"unfair|uncalled for|out of line|thoughtless|insensitive|inappropriate|disrespectful|wrong|untrue)",
    r"\w+'s (?:all |entirely |squarely |completely |totally )?on (?:me|us)",
    r"(?:sorry|apologi[sz]e|apologies) (?:for|about) (?:[\w']+ly )?(?:sending|charging|missing|forgetting|losing|breaking|"
    r"shipping|keeping you|letting you|getting|messing|mixing|delaying|overlooking|ignoring|"
    r"failing|not|deleting|sharing|publishing|giving|telling|double-charging|overcharging|"
    r"exposing|cancell?ing|wasting|misleading|leaving|interrupting|making|mislabell?ing|"
    r"emailing|billing|posting|skipping|rushing|snapping|being|taking|doubting|blaming)",
    r"(?:we|I) (?:had|have) no (?:[\w-]+ )?(?:check|review|test|step|safeguard|alert|process|"
    r"guard|limit|warning)",
    r"(?:we|I) (?:didn't|did not|never) have (?:a |an |any )?(?:[\w-]+ )?(?:check|review|test|"
    r"step|safeguard|alert|process|guard|limit|warning)",
    r"our (?:[\w-]+ ){0,2}?(?:process|processes|checklist|review|tooling|pipeline|safeguards|"
    r"checks|tests|runbook|procedure|workflow|playbook|setup|alerting|monitoring|steps|controls|"
    r"rules|policy|guardrails|form|system|systems|tool|tools|code|script|software|site|app) "
    r"(?:did not|didn't|don't|do not|does not|doesn't|failed|had no|have no|has no|lacked|let|"
    r"allowed|missed|was missing|were missing|relied|made it|accepted|hid|hides|ignored)",
    r"(?:I|we) (?:was|were) wrong",
    r"(?:I|we) had no (?:right|business|reason|excuse)",
    r"(?:sorry|apologi[sz]e|apologies)(?: that)? (?:I|we)(?: \w+ly)? (?!(?:apologi[sz]|notic|reali[sz]|"
    r"receiv|learn|hear|need|want|hop|decid|ask|ha|us)ed\b)(?:[a-z]{2,20}ed|forgot|lost|broke|left|said|"
    r"told|sent|took|gave|made|ran|wrote|put|let|kept|spoke|missed|shouted|snapped|hurt|upset|ignored)",
    r"what (?:I|we) (?:said|did|wrote|sent|posted) was (?:wrong|hurtful|unfair|unkind|out of line|"
    r"cruel|rude|thoughtless|careless|inappropriate|unacceptable|insensitive|mean)",
    r"(?:wrong|incorrect|faulty|broken|damaged|duplicate|late|misleading)(?: [\w-]+){0,3} (?:from|by) "
    r"(?:us|me)",
    r"(?:was|were|been) (?:[\w]+ly )?[a-z]{2,20}(?:ed|en|t) by (?:us|me|our team|my team|our staff)",
    r"(?:that|this|it) should(?: never|n't| not) have happened",
    r"our (?:[\w-]+ ){0,2}?(?:records|data|database|notes|files|website|site|app|staff|team|"
    r"people|systems?|process|processes|checks|tools?|forms?|software|warehouse|office|"
    r"store|shop|label|labels|listing|listings|page|pages|email|emails|invoice|invoices) "
    r"(?:wasn't|weren't|was not|were not|hadn't|had not|couldn't|could not|isn't|aren't|"
    r"is not|are not) (?:[\w-]+ )?(?:[a-z]{2,20}(?:ed|en)|set up|working|ready|right|correct|"
    r"accurate|clear|complete|able|enough|good enough|up to date|current)",
    r"(?:that|this|it) was (?:wrong|unfair|careless|thoughtless|unkind|rude|out of line|"
    r"irresponsible|unprofessional|sloppy|lazy|selfish) of (?:me|us)",
    r"(?:I am|I'm|we are|we're) the ones? who",
)
_FIRST_PERSON_FAULT = _rx(_FIRST_PERSON + _SOFTENER + _FAULT_VERB)
_FIRST_PERSON_NEUTRAL = _rx(_FIRST_PERSON + _SOFTENER + _NEUTRAL_VERB)
# "We've sent a replacement for the wrong item" reports a repair, not the fault.
_REMEDY_AFTER = re.compile(
    r"(?: [\w']+){0,3}? (?:a |an |the |your )?(?:replacement|new|correct|corrected|right|refund|"
    r"fresh|fixed|revised|updated|proper|apology|credit)\b"
)
_DENIAL = _rx(
    r"(?:not|never|wasn't|isn't|was not|is not|weren't|were not)(?: really| entirely| actually| "
    r"technically| strictly)? (?:our|my) (?:fault|doing|mistake|responsibility)",
    r"no fault of (?:our|my) own",
    r"(?:not|never|wasn't|isn't|was not|is not)(?: really| entirely| actually| technically| strictly)? "
    r"(?:on|down to) (?:me|us)",
    r"(?:don't|do not) think (?:\w+ ){0,2}?\w*(?:'s| is| was) (?:really |entirely |actually )?(?:on (?:me|us)|"
    r"(?:my|our) fault|down to (?:me|us))",
)
_CONDITIONAL_WORDS = frozenset({"if", "whether", "unless"})
# "You feel we let you down" reports someone else's view; it is not an admission.
_DISTANCING_WORDS = frozenset(
    {
        "feel",
        "felt",
        "think",
        "thought",
        "believe",
        "claim",
        "claims",
        "claimed",
        "say",
        "said",
        "says",
        "perceive",
        "perceived",
        "allege",
        "alleged",
        "suggest",
        "suggested",
        "feels",
        "took",
        "take",
        "taken",
        "interpreted",
    }
)
_NEGATION_WORDS = frozenset({"not", "never", "no", "wasn't", "isn't", "weren't", "aren't"})
_TOKEN = re.compile(r"[\w']+")

_REPAIR = _rx(
    r"refund(?:s|ed|ing)?",
    r"reimburs\w*",
    r"(?:claim|get) (?:it |them |that |the [\w-]+ |your [\w-]+ )?back",
    r"pay (?:you|it|them) back",
    r"(?:store |account |full |a |your )credit",
    r"credited",
    r"replacement",
    r"replac(?:e|ed|ing) (?:it|them|your|the)",
    r"re-?sen[dt](?:ing)?",
    r"re-?ship(?:ped|ping)?",
    r"re-?issu(?:e|ed|ing)",
    r"re-?deliver(?:ed|ing|y)?",
    r"re-?schedul(?:e|ed|ing)",
    r"re-?book(?:ed|ing)?",
    r"(?:will be|is|are|it's|it is) (?:completely |entirely )?(?:free|on the house)",
    r"for free",
    r"to the front of the (?:queue|line)",
    r"fast-?track(?:ed|ing)?",
    r"(?:has|have) (?:now |already )?(?:contacted|called|emailed|written to|notified|informed|"
    r"reached out to) (?:the|all|every|each|affected|those|everyone|\d)",
    r"compensat\w*",
    r"voucher",
    r"coupon",
    r"discount",
    r"\d{1,3}% off",
    r"waiv(?:e|ed|ing)",
    r"(?:at|for) no (?:extra |additional )?(?:cost|charge)",
    r"free of charge",
    r"(?:is|are|will be|has been|have been|it's|that's|dinner's|lunch's) on (?:us|me)",
    r"cover(?:ed|ing)? (?:the|your|any|all) (?:[\w-]+ )?(?:cost|costs|fees?|charges?|shipping|return)",
    r"(?:prepaid |free )?return label",
    r"pick (?:it|them) up",
    r"(?:has|have) been (?:fixed|restored|corrected|resolved|recovered|reverted|rolled back|"
    r"removed|deleted|recalled|reversed|cancell?ed|refunded|credited|reissued|updated|replaced|"
    r"withdrawn|voided|cleared|rescinded|waived|written off|corrected|sent|shipped|dispatched|"
    r"rebooked|rescheduled|reinstated|unlocked|re-?enabled|paid)",
    r"(?:is|are) (?:now )?(?:back up|back online|working again|fixed|restored|resolved|"
    r"live again|corrected|up again|running again)",
    r"(?:I|we)(?:'ve| have|'ll| will| am| are|'m|'re| have now| will now)?(?: already| now| "
    r"also| just| personally| immediately)? (?:fix|fixed|fixing|restor(?:e|ed|ing)|"
    r"correct(?:ed|ing)?|repair(?:ed|ing)?|revert(?:ed|ing)?|roll(?:ed|ing)? back|"
    r"recover(?:ed|ing)?|undo|undid|undone|recall(?:ed|ing)?|retract(?:ed|ing)?|"
    r"revers(?:e|ed|ing)|remov(?:e|ed|ing)|delet(?:e|ed|ing)|unpublish(?:ed|ing)?|"
    r"re-?enabl(?:e|ed|ing)|resolv(?:e|ed|ing)|reinstat(?:e|ed|ing)|cancel(?:l?ed|l?ing)?|"
    r"pa(?:y|id|ying) (?:for|you|back)|cover(?:ed|ing)?|extend(?:ed|ing)?|upgrad(?:e|ed|ing)|"
    r"expedit(?:e|ed|ing)|prioriti[sz](?:e|ed|ing)|rush(?:ed|ing)?|redo|redid|redone|"
    r"rewr(?:ite|ote|itten)|paus(?:e|ed|ing)|stopp?(?:ed|ing)?|contact(?:ed|ing)? (?:you|each|every|"
    r"all|the|everyone|them)|call(?:ed|ing)? (?:you|each|every|all|the|them)|"
    r"reach(?:ed)? out|sen[dt](?:ing)? (?:you|a|the|your|an|out) (?:[\w-]+ )?(?:corrected|correct|new|"
    r"right|replacement|fresh|working|updated|fixed|revised|proper|missing|second)|"
    r"ship(?:ped|ping)? (?:you|the|your) (?:[\w-]+ )?(?:correct|right|replacement|new|missing)|"
    r"(?:issu|appl)(?:y|ied|ying|e|ed|ing) (?:a|the|an) (?:[\w-]+ )?(?:credit|refund|fix|patch|"
    r"correction|discount)|arrang(?:e|ed|ing)|hand-deliver(?:ed|ing)?|set up a call|"
    r"asked (?:[\w']+ ){0,3}?to (?:delete|destroy|discard|return|ignore)|(?:make|made) up for)",
    r"(?:recipient|recipients|they|he|she) (?:has |have )?confirmed (?:[\w']+ ){0,3}?deleted",
    r"corrected (?:invoice|version|copy|link|links|email|order|bill|statement|report)",
    r"(?:here is|here's|here are|attached is|attached are|I've attached|I have attached|we've "
    r"attached|we have attached|please find|below is|below are) (?:the |a |an |your )?(?:[\w-]+ )?"
    r"(?:correct|corrected|right|updated|new|revised|fixed|working|proper|missing|accurate)",
    r"(?:the |a |your )?(?:correct|corrected|right|updated|revised|working|new|accurate) "
    r"(?:[\w-]+ ){0,2}?(?:is|are|was|were|has been|have been) (?:attached|below|here|on (?:its|their) way|"
    r"in the post|back|live|sent|up|available|ready)",
    r"on (?:its|their|the) way (?:to you|today|tomorrow|now)",
    r"free (?:express |next-day |standard |priority )?(?:delivery|shipping|return|returns|upgrade|"
    r"month|months|week|weeks|year|night|nights|replacement|repair|repairs|service|session)",
    r"(?:collect|pick up|collection of) (?:it|them|the [\w-]+|your [\w-]+)",
    r"(?:won't|will not|shan't|will no longer|won't be) (?:charge|charging|bill|billing|invoice|"
    r"invoicing) (?:you )?(?:for|anything|a)",
    r"no charge",
    r"(?:wip(?:e|ed|ing)|wrote off|writ(?:e|ing) off|cancell?(?:ed|ing)?|cut|cutting|halv(?:e|ed|ing)|reduc(?:e|ed|ing)|"
    r"lower(?:ed|ing)?|knock(?:ed|ing)? off|took|taking|take) (?:[\w'-]+ ){0,3}?(?:fee|fees|commission|charge|"
    r"charges|bill|price|rate|rent|invoice|subscription|balance)",
    r"(?:is|are|was|were|came|come|has come|have come) back (?:up|online|at|on|by|within|in|to normal)",
    r"honou?r(?:ed|ing)? (?:every|each|the|that|your|all|it|them)",
    r"keep (?:it|them|the [\w-]+(?: one)?)(?:,? (?:free|at no|no charge|on us|with our))",
    r"(?:has|have) gone back (?:to|into) your",
    r"back (?:to|on|onto) your (?:card|account|bank|statement)",
    r"(?:added|adding|add) (?:a|an|one|two|three|\d{1,2}) (?:free |extra )?(?:day|days|week|weeks|month|months)"
    r" (?:free )?(?:to|onto)",
    r"(?:has|have) been added to (?:your|every|each|all)",
    r"(?:you're|you are|you've been|you have been) (?:now )?(?:removed|unsubscribed|taken off|off (?:the|our) list)",
    r"(?:at|on) (?:my|our) (?:own )?(?:cost|expense)",
    r"(?:agreed|set|booked|arranged|offered|found) (?:you )?(?:a )?new (?:date|deadline|time|slot|appointment)",
    r"(?:will be|is|are|was|were|has been|have been) (?:back )?in your (?:account|inbox|bank|hands|"
    r"mailbox|letterbox|wallet|balance)",
    r"(?:missing|full|outstanding|owed|correct|unpaid|difference) (?:amount|sum|payment|money|"
    r"balance|pay|wages|overtime)",
    r"(?:it's|it is|that's|that is|this is|everything is|everything's|all is|service is|"
    r"the site is|the app is) (?:now )?(?:fixed|resolved|working|back|sorted|corrected|restored)",
    r"fixed now",
    r"(?:added|credited|restored|applied|returned|reinstated|put back) (?:the |your |all |an extra |a )?"
    r"(?:[\w,-]+ ){0,2}?(?:missing|owed|lost|unpaid|correct|extra|bonus|free)",
    r"(?:I|we)(?:'ve| have)? (?:renewed|re-?ordered|replaced|reconnected|reactivated)",
    r"here(?: is| are|'s) (?:a |the |your )?(?:new |working |correct |corrected |right |updated |fresh )?"
    r"(?:link|links|code|voucher|recording|copy|file|invoice|replacement|version|ticket|tickets)",
    r"(?:is|are) now (?:online|available|live|up|ready|fixed|working|back|restored|correct)",
    r"(?:reduced|lowered|cut|discounted) by (?:\d{1,3}%|half|(?:\$|€|£)\s?\d[\d,.]{0,12})",
    r"\d{1,3}% (?:off|discount|reduction|refund|credit|back)",
    r"(?:\d{1,3}%|£\s?\d+|\$\s?\d+|€\s?\d+) (?:code|voucher|credit|discount|coupon|gift card)",
    r"(?:reverted|rolled back|restored|fixed|resolved|recovered|mitigated|reindexed|rebuilt|rerun|re-?ran) "
    r"(?:it |the [\w-]+ )?(?:at|by|within|after|in) (?:\d|under|about|less|a |an |the |minutes|hours)",
    r"re-?(?:ran|run|indexed|processed|uploaded|published|imported|calculated|built|submitted|generated|synced|loaded)",
    r"(?:is|are|will be|has been|have been|goes|went|was|were|it's|that's|money's|refund's) (?:now |already )?back "
    r"(?:in|on|into|onto|to) your "
    r"(?:account|inbox|bank|card|credit card|statement|bill|balance|wallet)",
    r"(?:has|have|had) (?:now |already |since )?(?:recalled|retracted|reissued|re-issued|withdrawn|unpublished|"
    r"refunded|corrected|restored|reinstated|pulled (?:it|them|the [\w-]+)|taken (?:it |them )?down)",
    r"(?:is|are) yours (?:anyway|to keep|regardless|either way|free)",
    r"(?:you can|please|feel free to) keep (?:it|them|the|your)",
    r"(?:I|we)(?:'ve| have) (?:now )?(?:finished|completed|delivered|caught up|made up|re-?done)",
    r"honou?r(?:ed|ing)? (?:the|that|this|your|all|every|any|those)",
    r"(?:I|we)(?:'re| are) (?:undoing|reverting|restoring|rolling back|fixing|refunding|replacing)",
    r"(?:rolled|rolling|roll|switched|switching|turned|turning|put|putting|changed|changing|set|setting) "
    r"(?:it|them|that|this|everything|the [\w-]+(?: [\w-]+)?) (?:back|right|straight)",
    r"(?:(?<=, )|and |then |also |we |I |we've |I've |have |has )(?:contacted|called|phoned|rung|emailed|"
    r"messaged|written to|notified|refunded|credited|compensated) (?:the|all|every|each|affected|"
    r"everyone|them|you|those|\d)",
    r"(?:posted|sent|published|issued|made|emailed|added|put out|circulated|shared) (?:a |an |the )?"
    r"(?:public |full |written |short |clear |formal )?(?:correction|clarification|retraction)",
    r"(?:set|put) the record straight",
    r"(?:emailed|written to|told|messaged|let) (?:everyone|everybody|all|the whole|each of)(?: [\w-]+){0,4}? "
    r"(?:to say|that|know|to make clear|to clarify|to correct)",
    r"ask(?:ed|ing)? (?:[\w']+ ){0,3}?to (?:delete|destroy|discard|return|ignore|remove|disregard|forward it back)",
    r"(?:recipient|recipients|customer|person|parent|client|patient|they|he|she|colleague|member) "
    r"(?:has|have) (?:now |already |since )?(?:confirmed (?:that )?(?:[\w']+ ){0,2}?)?(?:deleted|destroyed|"
    r"returned|removed|discarded)",
    r"confirm (?:that )?(?:it|they|the [\w-]+|your [\w-]+) (?:has |have )?(?:arrived|got there|was received|"
    r"were received|reached)",
    r"(?:it|they|the [\w-]+|your [\w-]+)(?: is| are|'s|'re) (?:now )?(?:with (?:you|them)|in your inbox)",
    r"(?:I|we)(?:'ve| have)? (?:now |finally |just )?(?:submitted|handed in|filed|sent (?:it|them) (?:off|over|in|across))",
    # A visit or a redo with its time: "I'll be there tomorrow at 8", "I'll do them tonight".
    r"(?:I|we|an engineer|a technician|someone|our [\w-]+)(?:'ll| will) be (?:there|with you|round|over|back|at your "
    r"(?:door|house|home|place|office|shop)) (?:first thing |again )?(?:tomorrow|today|tonight|this (?:morning|afternoon|evening)|"
    r"on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|at \d|by \d|within)",
    r"(?:I|we)(?:'ll| will) (?:do|redo|finish|sort|fix|send|bring|deliver|drop off) (?:it|them|that|this|those|these|the [\w-]+)"
    r"(?: (?:all|both|myself|ourselves))? (?:tonight|today|tomorrow|now|first thing|right away|straight away|"
    r"this (?:morning|afternoon|evening|weekend)|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))",
    r"(?:callout|call-out|visit|repair|labour|labor|parts?|fitting|delivery|postage|return|replacement|fix|session|"
    r"consultation|inspection)(?:'s| is| will be) (?:completely |entirely |also )?(?:free|on us|on the house|no charge)",
)
_REPAIR_PERSONAL = _rx(
    r"make (?:it|this|that|things) (?:right|up to you)",
    r"(?:I'll|I will|let me|can I|could I|may I|I'd like to|I want to) (?:buy|bring|cook|take you|"
    r"treat|pay|replace|fix|redo|cover|drive|"
    r"call|make|come|ring|phone|visit|come round|come over|make time|take|help|cover|sort|fill|clean|"
    r"return|bring back|repaint|mend)",
)

_REGRET = _rx(
    r"sorry",
    r"apologi[sz]e[sd]?",
    r"apologi[sz]ing",
    r"apologies",
    r"apology",
    r"regret(?:s|ted)?",
    r"(?:I|we) feel (?:terrible|awful|bad|dreadful|horrible)",
)

_EXPLANATION = _rx(
    r"because",
    r"caused by",
    r"(?:the|a) (?:root )?cause",
    r"(?:root )?cause:",
    r"why:",
    r"due to",
    r"happened (?:because|when|after|during|while|on|at|last|yesterday)",
    r"what happened",
    r"(?:the|a) reason",
    r"as a result",
    r"which meant",
    r"which is why",
    r"(?:this|that|it) is why",
    r"(?:this|that|it)(?:'s| is) why",
    r"turned out",
    r"(?<=, )so (?:the|we|I|our|your|it|this|that|nobody|no one|none|every|all|some|many)",
    r"(?:led|leading|leads) to",
    r"resulted in",
    r"it turns out",
    r"the problem was",
    r"the issue was",
    r"(?:on|last|this past|early|late) " + _DAY,
    _DAY + r" (?:morning|afternoon|evening|night)",
    r"yesterday",
    r"this (?:morning|afternoon|evening|week)",
    r"last (?:night|week|month|weekend|friday)",
    r"earlier (?:today|this week)",
    r"at \d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.|utc|gmt|cet|est|pst|h)?",
    r"between \d{1,2}(?::\d{2})?",
    r"from \d{1,2}(?::\d{2})?\s?(?:am|pm)? (?:to|until|till)",
    r"on " + _MONTH + r" \d{1,2}(?:st|nd|rd|th)?",
    r"on (?:the )?\d{1,2}(?:st|nd|rd|th)?(?: of)? " + _MONTH,
    r"\d{4}-\d{2}-\d{2}",
    r"(?:when|after|while) (?:we|I|our|my)",
    r"(?:a|an|the) (?:[\w-]+ )?(?:bug|typo|misconfiguration|script|filter|setting|change|update|"
    r"glitch|fault|error|mistake|mix-up|slip|label|spreadsheet|template|formula|field) "
    r"(?:in|on|that|which|meant|made|caused|sent|pointed|put|left)",
)

_IMPACT = _rx(
    r"you (?:couldn't|could not|weren't able to|were unable to|can't|cannot|had no way to|lost|"
    r"missed|had to|didn't get|did not get|didn't receive|did not receive|never received|"
    r"never got|waited|spent|paid|were charged|were billed|were kept waiting|were left|"
    r"were locked out|got (?:a|the|an) (?:[\w-]+ )?(?:wrong|incorrect|broken|damaged)|"
    r"received (?:a|the|an) (?:[\w-]+ )?(?:wrong|incorrect|broken|damaged)|ended up|went without|"
    r"were without|must have|probably|may have had to|were embarrassed|were worried|"
    r"were stuck|wasted|showed up|arrived|turned up)",
    r"(?:left|leaving|kept|keeping|cost|costing|forced|forcing|made|making) you",
    r"(?:caused|causing) (?:you|your)",
    r"(?:wasted|cost|took|ruined|disrupted|delayed|jeopardi[sz]ed|put at risk|exposed|held up|"
    r"set back|interrupted|spoiled|derailed|embarrassed|upset|hurt|worried|confused|"
    r"inconvenienced|blocked|stopped) (?:[\w']+ ){0,2}?(?:your|you)",
    r"(?:this|that|it|which|the (?:delay|outage|mistake|error|mix-up|problem|leak|change)) "
    r"(?:[\w']+ly )?(?:meant|means|caused|left|cost|forced|made|put|kept|disrupted|delayed|ruined|"
    r"wasted|hit|hurt|broke|blocked|stopped|prevented|locked|interrupted|exposed|embarrassed|"
    r"undermined)",
    r"\d[\d,.]{0,12}\s?(?:[a-z-]{2,12} )?(?:hours?|hrs?|minutes?|mins?|days?|weeks?|customers?|users?|people|orders?|"
    r"accounts?|recipients?|subscribers?|clients?|households?|invoices?|emails?|messages?|"
    r"shoppers?|members?|sites?|stores?|charges?|transactions?|payments?|patients?|families|"
    r"colleagues|teams?|readers|guests|bookings?|parents|students|pupils|residents|tenants|staff|employees|"
    r"partners|merchants|passengers|viewers|listeners|donors|volunteers|followers|contacts|families|"
    r"children|kids|buyers|sellers|drivers|businesses|companies|homes|properties|tickets?|calls?|"
    r"appointments?|deliveries|parcels?|packages?|items?|files?|records?|cards?)",
    r"(?:two|three|four|five|six|seven|eight|nine|ten|twelve|several|a few|a couple of|many) "
    r"(?:hours|days|weeks|evenings|weekends)",
    r"(?:\$|€|£)\s?\d[\d,.]{0,12}",
    r"\d[\d,.]{0,12}\s?(?:euros?|dollars?|pounds?|usd|eur|gbp)",
    r"(?:visible|exposed|shown|disclosed|sent|shared|available|readable) to (?:another|other|a "
    r"different|someone|the wrong|people|anyone|[\d,]+)",
    r"in front of",
    r"(?:broke|betrayed|broken|betraying|breaking|lost|damaged|abused) (?:your|their|his|her) (?:trust|confidence)",
    r"(?:you'd|you had|you were|you've been|you have been) (?:been )?(?:counting|counted|relying|relied|depending|"
    r"depended|banking) on",
    r"(?:three|four|five|six|seven|eight|nine|ten|several|multiple|many) (?:more )?times",
    r"for nothing",
    r"took (?:[\w']+ ){0,3}?(?:from|away from) (?:you|your)",
    r"(?:you'd|you had|you have|you've) (?:already )?(?:set aside|cleared|planned|booked|made time|spent|put in|"
    r"taken time|taken the day|arranged|waited|prepared|paid|driven|travelled|traveled)",
    r"(?:breach|betrayal|violation|abuse) of (?:your|our) (?:trust|privacy|confidence|friendship)",
    r"(?:I|we) (?:understand|get it|would understand) if you",
    r"(?:I|we) (?:know|understand|realise|realize|appreciate|recognise|recognize) (?:that |how )?"
    r"(?:[\w']+ ){0,3}?(?:is|are|was|were|'s|'re) (?:[\w-]+ )?(?:sensitive|private|personal|confidential|"
    r"important|precious|worrying|upsetting|stressful|embarrassing|serious|costly)",
    r"(?:unable|could(?:n't| not)) (?:to )?(?:log in|sign in|access|use|pay|check out|order|"
    r"work|reach|open|download|send|receive|book|finish)",
    r"without (?:internet|service|access|power|heating|a working|your)",
    r"your (?:personal|private|confidential|home|bank|payment|medical|contact) "
    r"(?:details|information|data|address|number)",
    r"(?:I|we) (?:know|understand|realize|realise|recognize|recognise|see) (?:that |how |what )?"
    r"(?:this|it|that|the|you|your)",
    r"(?:I|we) (?:know|understand|realize|realise|appreciate) (?:how|that this is|this is|it's|"
    r"it is|it was|this was) (?:[\w-]+ )?(?:sensitive|private|personal|worrying|upsetting|"
    r"frustrating|stressful|important|embarrassing|confidential|serious|disruptive|costly|annoying|"
    r"unsettling|much|hard|long|difficult)",
    r"(?:had to|have had to|were forced to|ended up|having to) (?:re-?do|rework|work late|stay late|"
    r"work overnight|cancel|postpone|rebook|start over|wait|call|chase|explain|apologi[sz]e|"
    r"find|pay|take|miss|stay|drive|spend)",
)

_PREVENTION_CUE = _rx(
    r"from now on",
    r"going forward",
    r"in (?:the )?future",
    r"to prevent",
    r"to stop (?:this|it|that|a repeat)",
    r"to avoid (?:this|a repeat|repeating|it|that)",
    r"to make sure (?:this|it|that|no|nothing|every|each)",
    r"to ensure (?:this|it|that|no|nothing|every|each)",
    r"so (?:that )?(?:[\w']+ ){1,3}?(?:can't|cannot|won't|doesn't|does not|will not|can no longer|"
    r"no longer|never|can only|must)",
    r"no longer (?:possible|able|be able|go|goes|happen|send|sends|ship|ships)",
    r"before (?:any|every|each|it goes|they go|anything goes|a campaign|an? \w+ (?:goes|is sent|"
    r"ships|is published))",
    r"(?:every|each) (?:morning|day|evening|night|week|shift|month|time|visit|booking|call)",
    r"(?:every|each) (?:order|email|campaign|release|invoice|change|send|deploy|mailing|"
    r"shipment|report|newsletter|update|list|export)",
    r"(?:new|extra|additional|second|mandatory|automatic|automated|required|separate) "
    r"(?:[\w-]+ )?(?:check|checks|review|step|safeguard|alert|alarm|test|tests|approval|"
    r"sign-off|signoff|checklist|reviewer|confirmation|warning|validation|rule|gate|"
    r"pair of eyes|person|field|prompt|limit)",
    r"checklist",
    r"now (?:requires?|checks?|blocks?|warns?|stops?|refuses?|asks?|flags?|needs?|verif(?:y|ies)|"
    r"goes through|has to|have to|must|gets?|double-checks?)",
    r"(?:two|four)-(?:person|eyes)",
    r"(?:has|have) to be (?:approved|reviewed|checked|signed off)",
    r"(?:changed|changing|change|fixed|fixing|updated|updating|rewrote|rewriting|redesigned|"
    r"automated|automating) (?:the|our|how|my) (?:[\w-]+ ){0,2}?(?:process|template|script|form|"
    r"check|workflow|procedure|setup|configuration|rule|tool|system|list|filter|way|label|pipeline)",
    r"(?:I|we)(?:'ll| will|'ve| have|'m| am|'re| are)?(?: now| also| already)? (?:set|setting) "
    r"(?:up )?(?:a |an )?(?:reminder|alert|alarm|calendar)",
    r"(?:I|we)(?:'ll| will|'ve| have|'m| am|'re| are)? (?:now )?(?:always|never)",
    r"(?:will|\w+'ll|going to|plan to|is to|are to) (?:also )?(?:add|introduce|build|automate|set up|run|hold|"
    r"require|create|implement|enable|install|put in place|document|train|split|separate|audit|"
    r"block|limit|lock|rewrite|switch|turn on|write|move|pair|rotate|schedule)",
    r"(?:action items?|follow-?ups?|next steps|actions|prevention|owner)(?::| -)",
    r"next time",
    r"(?:starting|from|as of|beginning) (?:today|tomorrow|this|next|" + _DAY + r"|" + _MONTH + r")",
    r"(?:we|I|our [\w-]+)(?: now| will now|'ll now| now always| always now) (?!(?:know|have|are|am|understand|"
    r"see|realise|realize|think|feel|hope|need|want)\b)[a-z]{3,20}",
    r"(?:in|into|to) (?:my|our|the|a shared) (?:calendar|diary|planner|to-do list|checklist)",
    r"(?:set|put|added|created|scheduled|booked|made)(?: up)? (?:[\w']+ ){0,3}?(?:reminder|alarm)s?",
    r"for (?:the )?next (?:quarter|month|year|time|release|week|season|campaign|launch|order)",
    r"(?:switched|turned|switching|turning|shut|shutting) (?:[\w'-]+ ){0,2}?off",
    r"(?:any|every|each|all) future",
)
_PREVENTION_CONCRETE = _rx(
    r"by (?:" + _DAY + r"|the end of (?:the |this |next )?(?:week|month|day|quarter|sprint)|"
    r"end of (?:the )?(?:week|month|quarter|sprint)|next (?:week|month|"
    + _DAY
    + r")|"
    + _MONTH
    + r" \d{1,2}|\d{1,2}(?:st|nd|rd|th)?(?: of)? "
    + _MONTH
    + r"|\d{4}-\d{2}-\d{2}|"
    r"\d{1,2}/\d{1,2}|the \d{1,2}(?:st|nd|rd|th)|tomorrow|q[1-4])",
    r"(?:starting|from|as of|effective|beginning|since) (?:today|tomorrow|tonight|this|next|"
    + _DAY
    + r"|"
    + _MONTH
    + r"|\d)",
    r"within (?:a|one|two|three|four|\d{1,2}) (?:days?|weeks?|months?)",
    r"(?:this|next) (?:week|month|sprint|quarter)",
    r"\d{1,2}(?:st|nd|rd|th)? " + _MONTH,
    _MONTH + r" \d{1,2}(?:st|nd|rd|th)?",
    r"\d{4}-\d{2}-\d{2}",
    r"(?:owned|led|handled|run|driven|tracked|done) by",
    r"(?:owner|owners|responsible|lead|due|deadline):",
    r"I(?:'ll| will) (?:personally|own|be responsible|be the one|check|review|do)",
    r"I(?:'m| am) (?:personally|responsible for|owning|leading|taking this on)",
    r"(?:we|I)(?:'ve| have)?(?: now| also| already)? (?:added|introduced|put|set up|changed|"
    r"updated|built|automated|created|switched|moved|started|implemented|turned on|enabled|"
    r"installed|rewrote|rewritten|redesigned|split|separated|configured|limited|locked|blocked|"
    r"removed|adopted|begun|began|scheduled|written|wrote|trained)",
    r"(?:is|are|has been|have been) now",
    r"now(?=[.!;]|$)",
    r"(?:we|I|our [\w-]+)(?: now| now always| always now) (?!(?:know|have|are|am|understand|"
    r"see|realise|realize|think|feel|hope|need|want)\b)[a-z]{3,20}",
    r"now (?:always |also )?(?:requires?|checks?|blocks?|warns?|stops?|refuses?|asks?|flags?|"
    r"needs?|has|have|uses?|runs?|goes through|gets?|must|reviews?|shows?|sends?|includes?|"
    r"tests?|confirms?|compares?|scans?|matches?|verif(?:y|ies)|looks?|holds?|pauses?|"
    r"requires?|alerts?|prompts?|limits?|defaults?)",
    r"(?:has|have|had) (?:already )?been (?:added|introduced|put in place|set up|changed|updated|"
    r"automated|created|enabled|turned on|fixed|implemented|scheduled)",
    r"(?:is|are) (?:already )?(?:in place|live|running|scheduled|booked|on the calendar)",
    r"(?:any|every|each|all) future [\w-]+(?: [\w-]+)? (?:gets?|goes|go|has to|have to|must|needs?|will get|"
    r"will go|will need|is|are)",
    r"(?:I|we)(?:'ll| will| am going to|'m going to| are going to|'re going to)(?: now| also| always)?"
    r" (?:add|check|share|send|use|require|run|verify|confirm|keep|ask|put|set|make sure|"
    r"double-check|read|test|call|include|label|lock|store|switch|move|split|stop|start|turn|"
    r"write|build|create|remove|limit|schedule|train|pair|block|book|save|print|proofread)",
)
# An owner named in the sentence: "Dana will…", "Priya owns…". Capitals matter here, and
# pronouns and sentence openers are not names. Only where a match starts counts, so the
# last word may run on ("Dana willingly").
_NAMED_OWNER = PatternSet(
    [
        r"(?!(?:We|I|It|This|That|They|You|Our|He|She|There|Which|What|The|A|An|If|And|But"
        r"|So|Then|From|Going|In|To|On|Each|Every|Nobody|Someone|Everyone|Anyone|Customers|"
        r"People|One)\b)[A-Z][a-z]{1,20}(?: [A-Z][a-z]{1,20})? (?:will|is going to|owns|is leading|has "
        r"agreed to|is responsible|from our|on our|in our|has taken|is taking|takes)\w*"
    ],
    case_sensitive=True,
)

_FORGIVENESS = _rx(
    r"forgive",
    r"forgiveness",
    r"pardon (?:me|us)",
    r"(?:another|a second|one more) chance",
    r"(?:earn|win|regain|rebuild|restore|keep|deserve) (?:back )?your (?:trust|confidence|business)",
    r"(?:earn|win) (?:it|your trust|that trust) back",
    r"hope (?:you|we)(?: can| will|'ll) (?:move|get) past",
    r"hope you(?:'ll| will| can) (?:accept|give)",
    r"(?:if|when) you(?:'re| are) ready to (?:talk|forgive)",
)


# A personal promise to stop one named behaviour ("I won't read your messages again") is
# the forbearance promise Scher & Darley found to help; "it won't happen again" is not.
_PERSONAL_FORBEARANCE = _rx(
    r"I(?:'ll| will) (?:never|not)(?! (?:let|allow|do (?:it|that|this)|happen|make))"
    r" [\w']+ (?:[\w']+ ){0,5}?again",
    r"I (?:won't|will not|shall not)(?! (?:let|allow|do (?:it|that|this)|happen|make))"
    r" [\w']+ (?:[\w']+ ){0,5}?again",
)


def detect(document: Document, audience: str) -> dict[str, bool]:
    """Which of the seven components a text shows, for one audience."""
    repair = document.search(_REPAIR) or (audience == "personal" and document.search(_REPAIR_PERSONAL))
    return {
        "responsibility": _has_responsibility(document),
        "repair": repair,
        "regret": document.search(_REGRET),
        "explanation": document.search(_EXPLANATION),
        "impact": document.search(_IMPACT),
        "prevention": _has_prevention(document) or (audience == "personal" and document.search(_PERSONAL_FORBEARANCE)),
        "forgiveness": document.search(_FORGIVENESS),
    }


def _has_responsibility(document: Document) -> bool:
    text = document.folded
    # "Sorry I missed dinner… it wasn't really my fault" takes back what it admitted.
    if document.search(_DENIAL):
        return False
    if _owned(document, document.finditer(_DEFINITE_RESPONSIBILITY)):
        return True
    if _owned(document, document.finditer(_FIRST_PERSON_FAULT)):
        return True
    # A neutral verb ("we sent") owns a fault only where its sentence, or the one before,
    # says what went wrong: "The link was broken. I pasted it before the page was live."
    faulty = document.sentences_with(_FAULT_MARKER)
    candidates = (
        m
        for m in document.finditer(_FIRST_PERSON_NEUTRAL)
        if (document.sentence_of(m.start()) in faulty or document.sentence_of(m.start()) - 1 in faulty)
        and not _REMEDY_AFTER.match(text, m.end())
    )
    return _owned(document, candidates)


def _owned(document: Document, matches: Iterable[re.Match[str]]) -> bool:
    """Whether any match is a plain admission, not "if we made a mistake" or "not our fault"."""
    for match in matches:
        start, _ = document.sentence_span(document.sentence_of(match.start()))
        before = [
            word.lower() for word in _TOKEN.findall(document.text[max(start, match.start() - 40) : match.start()])
        ]
        if set(before[-3:]) & (_CONDITIONAL_WORDS | _DISTANCING_WORDS):
            continue
        # "not our fault" denies; "it didn't arrive: we booked…" does not, so only the two
        # words right before an admission that has no subject of its own are read.
        subject = _TOKEN.match(match.group(0))
        # "we'd", "I've": a subject with its auxiliary is still the subject.
        if subject is None or subject.group(0).lower().split("'")[0] not in ("i", "we"):
            near = before[-2:]
            if set(near) & _NEGATION_WORDS or any(word.endswith("n't") for word in near):
                continue
        return True
    return False


def _has_prevention(document: Document) -> bool:
    """A prevention step counts when it is concrete: done already, or with an owner or date."""
    cues = document.sentences_with(_PREVENTION_CUE)
    if not cues:
        return False
    concrete = document.sentences_with(_PREVENTION_CONCRETE) | document.sentences_with(_NAMED_OWNER)
    return any(index in concrete or index + 1 in concrete for index in cues)


def weights(audience: str) -> dict[str, int]:
    """The weight of each component for an audience."""
    return WEIGHTS[audience]


def tips(components: dict[str, bool], audience: str) -> tuple[str, ...]:
    """One line per missing component that counts for this audience, heaviest first."""
    table = WEIGHTS[audience]
    missing = [name for name in COMPONENTS if not components[name] and table[name] > 0]
    missing.sort(key=lambda name: -table[name])
    return tuple(f"{name}: {TIPS[audience][name]}" for name in missing)
