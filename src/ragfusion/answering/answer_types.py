"""What a question asks for ("how often" wants a frequency, "how much" a price) and how an
answer of that kind looks."""

from __future__ import annotations

import re

# Verbs that open an instruction ("Press and hold ...", "Slide the cover down ...").
_IMPERATIVES = "|".join(
    [
        "press",
        "hold",
        "turn",
        "open",
        "close",
        "slide",
        "remove",
        "insert",
        "unplug",
        "plug",
        "check",
        "clean",
        "wipe",
        "set",
        "select",
        "tap",
        "click",
        "go",
        "choose",
        "wait",
        "make",
        "keep",
        "use",
        "place",
        "put",
        "pull",
        "push",
        "connect",
        "disconnect",
        "restart",
        "reset",
        "contact",
        "call",
        "email",
        "visit",
        "install",
        "update",
        "enable",
        "disable",
        "replace",
        "return",
        "register",
        "send",
        "move",
        "lift",
        "lower",
        "rinse",
        "dry",
        "attach",
        "detach",
        "switch",
        "power",
        "enter",
        "log",
        "sign",
        "follow",
        "allow",
        "change",
        "clear",
        "reinstall",
        "retry",
        "try",
        "run",
        "fill",
        "empty",
        "leave",
        "store",
        "unscrew",
        "screw",
        "align",
    ]
)

# What a question asks for, and how an answer of that kind looks.
_UNITS = (
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    r"cm|mm|m|km|inch(?:es)?|in|ft|feet|kg|g|lbs?|pounds?|w|watts?|v|volts?|db|"
    r"m²|m2|m³|sq|square|litres?|liters?|l|ml|°[cf]?|degrees?|%|percent|mph|kph|gb|mb)"
)
_NUMBER = r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_CODE_ANSWER = (
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*\b|"
    r"\b\d+(?:\.\d+)+\b"
)
# (what the question says, how an answer of that kind looks, whether an answer must look so:
# a "how much does it cost" question that no passage answers with a price is not answered).
_TYPE_RULES = (
    (
        r"\bhow (?:often|frequently)\b|\bhow many times\b",
        rf"\bevery\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b|\bper\b|"
        rf"\b{_NUMBER}\s+times\b|\bonce\b|\btwice\b",
        True,
    ),
    (
        r"\b(?:cost|costs|price|prices|priced|fee|fees|charge|charged|pay)\b|"
        r"\bhow (?:much|expensive) (?:is|are|does|do|will|would)\b(?!.*\b(?:space|time|power|"
        r"energy|room|noise|water|weight)\b)",
        r"[$€£¥]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b|\bfree\b",
        True,
    ),
    (
        r"\bhow long\b|\bhow far back\b|"
        r"\bhow many (?:days|hours|minutes|seconds|weeks|months|years)\b",
        rf"\b{_NUMBER}[\s-]*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b|"
        r"\blifetime\b",
        True,
    ),
    (
        r"\bhow many\b|\bnumber of\b|\bhow (?:far|big|large|heavy|loud|wide|tall|much)\b",
        rf"\b{_NUMBER}\b|\bunlimited\b",
        False,
    ),
    (
        r"^when\b|\bwhat (?:time|date|year|day)\b|\bwhich (?:year|day|date|month)\b",
        r"\b\d{1,2}[:.]\d{2}\b|\b(?:1[5-9]|20)\d{2}\b|\b(?:january|february|march|april|"
        r"may|june|july|august|september|october|november|december|monday|tuesday|"
        r"wednesday|thursday|friday|saturday|sunday|am|pm|after|before|within|when|once)\b",
        False,
    ),
    (r"\bhow (?:loud|noisy|quiet)\b|\bnoise level\b", r"\bd[bB]\b|\bdecibels?\b", True),
    (r"\bhow heavy\b|\bweigh\b|\bweight\b", r"\b\d+(?:[.,]\d+)?\s?(?:kg|g|lbs?|pounds?)\b", True),
    (r"\b(?:temperature|how (?:hot|cold|warm))\b", r"°|\bdegrees?\b|\b\d+\s?[cf]\b", True),
    (r"\b(?:percent|percentage)\b", r"%|\bpercent\b", True),
    # Contact details: a phone number, an e-mail address.
    (
        r"\b(?:phone|telephone|fax|contact|support) numbers?\b|\bhotline\b|\bnumber to call\b",
        r"(?<![\w.-])(?!\d{4}-\d\d-\d\d)\+?\(?\d[\d ().-]{5,}\d(?![\w-])",  # not a date
        True,
    ),
    (
        r"\be-?mail address(?:es)?\b|\bwhat(?:'s| is) the e-?mail\b",
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        True,
    ),
    (r"\b(?:size|dimensions?|how (?:far|close))\b", rf"\b{_NUMBER}\s*{_UNITS}\b", False),
    # "Where ..." wants a place: a menu path ("Settings > Wi-Fi"), a preposition before a name
    # ("in Paris", "at the University of ...") or a part of something ("on the back").
    (
        r"^where\b|\bwhere (?:in|on|at|can|could|do|does|did|is|are|was|were|should|would|will)\b",
        r"\s>\s|\b(?:in|at|on|near|from|under|inside|behind|beside|below|above|into|within|"
        r"along|across|outside|between|beneath|throughout)\s+(?:the\s+|a\s+|an\s+)?(?:(?-i:[A-Z])|"
        r"(?:back|front|top|bottom|side|left|right|base|rear|underside|corner|cent(?:re|er)|"
        r"middle|north|south|east|west)\b)|\b(?:located|situated|menu|tab|screen)\b",
        False,
    ),
    # "Which error code ...", "what model number ...": the answer names a code.
    (
        r"\b(?:which|what)\s+(?:\w+\s+)?(?:code|model|version|firmware|release)\b",
        _CODE_ANSWER,
        False,
    ),
    # How-to questions want an instruction: a sentence that starts with a verb or "To ...".
    (
        r"\bhow (?:do|can|should|would) (?:i|we|you)\b|\bhow to\b|"
        r"\bwhat (?:should|do|can) (?:i|we) (?:do|check|try)\b",
        r"^(?:to\s+\w+[^.]*?[,:]\s*)?(?:please\s+)?(?:" + _IMPERATIVES + r")\b",
        False,
    ),
    # Yes/no questions about what is allowed or possible: a statement of it, or its denial.
    (
        r"^(?:can|could|may|should|is|are|does|do|will|must)\s+(?:i|we|you|it|the|my|this)\b",
        r"\b(?:not|never|no|cannot|can't|only|must|may|can|supported|safe|allowed|"
        r"possible|required|automatically|yes)\b",
        False,
    ),
)
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str], bool], ...] = tuple(
    (re.compile(asked, re.IGNORECASE), re.compile(answer, re.IGNORECASE), hard)
    for asked, answer, hard in _TYPE_RULES
)
INSTRUCTION = _ANSWER_TYPES[-2][1]
# A yes/no cue only helps: an answer may be a plain statement ("the warranty passes to the new
# owner") without any of its words.
YES_NO = _ANSWER_TYPES[-1][1]


def type_patterns(question: str) -> list[tuple[re.Pattern[str], bool]]:
    """How an answer to ``question`` looks, and whether it must (see _TYPE_RULES)."""
    return [(answer, hard) for asked, answer, hard in _ANSWER_TYPES if asked.search(question)]
