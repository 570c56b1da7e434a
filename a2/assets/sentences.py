"""Generated movie-review sentences shaped like SST-2, for the offline profile.

The real data (``gpt3mix/sst2``) cannot be downloaded here, so the offline profile trains on sentences
made from templates. They are built so that a classifier has to read word order: negation flips a
clause ("is not charming"), a contrast makes the second clause decide ("charming, but hollow"), and
neutral filler pads the length. A bag of words therefore stays well short of what a working
finetuning pipeline reaches, and a broken pipeline stays near chance.

Labels follow ``gpt3mix/sst2``: 0 = positive, 1 = negative. Everything is drawn from one seeded
``random.Random``, so the same seed gives the same sentences on every machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIVE = 0
NEGATIVE = 1

POSITIVE_WORDS = (
    "charming",
    "moving",
    "funny",
    "gripping",
    "brilliant",
    "delightful",
    "tender",
    "clever",
    "gorgeous",
    "thrilling",
    "heartfelt",
    "witty",
    "beautiful",
    "inventive",
    "engaging",
    "touching",
    "rewarding",
    "lively",
    "graceful",
    "powerful",
    "smart",
    "warm",
    "fresh",
    "stunning",
    "sharp",
    "satisfying",
    "haunting",
    "joyous",
    "memorable",
    "elegant",
)
NEGATIVE_WORDS = (
    "dull",
    "tedious",
    "clumsy",
    "bland",
    "hollow",
    "boring",
    "lifeless",
    "messy",
    "shallow",
    "awkward",
    "pointless",
    "tiresome",
    "flat",
    "forgettable",
    "silly",
    "sluggish",
    "stale",
    "muddled",
    "grating",
    "listless",
    "lazy",
    "cheap",
    "empty",
    "plodding",
    "sour",
    "trite",
    "labored",
    "dreary",
    "inert",
    "overwrought",
)
SUBJECTS = (
    "the film",
    "this movie",
    "the plot",
    "the script",
    "the acting",
    "the cast",
    "the story",
    "the direction",
    "the ending",
    "the dialogue",
    "the soundtrack",
    "the lead performance",
    "the screenplay",
    "the second half",
    "the premise",
    "the camera work",
    "this sequel",
    "the documentary",
    "the comedy",
    "the thriller",
)
VERBS = ("is", "feels", "seems", "remains", "turns out", "comes across as", "proves")
INTENSIFIERS = ("", "", "", "very ", "quite ", "truly ", "often ", "surprisingly ", "deeply ")
NEGATIONS = ("not", "never", "far from", "hardly", "anything but", "not at all")
CONTRAST_BUT = ("but", "yet", "though in the end")
CONTRAST_ALTHOUGH = ("although", "even if", "while")
FILLER = (
    "for the most part",
    "in its own way",
    "by the final reel",
    "as a whole",
    "from start to finish",
    "on a second viewing",
    "in the end",
    "at two hours long",
    "despite its budget",
    "with a familiar cast",
    "for a summer release",
    "in every scene",
    "as adapted from the novel",
    "to nobody 's surprise",
    "like most films of its kind",
)
OPENERS = (
    "",
    "",
    "",
    "honestly , ",
    "in short , ",
    "make no mistake : ",
    "all told , ",
    "frankly , ",
    "it must be said that ",
)


@dataclass(frozen=True)
class Sentence:
    """One generated review sentence and its label (0 = positive, 1 = negative)."""

    text: str
    label: int


def _clause(rng: random.Random, polarity: int, negate_probability: float) -> tuple[str, int]:
    """A clause about one subject, and the polarity it expresses after any negation."""
    negated = rng.random() < negate_probability
    word_polarity = polarity ^ int(negated)
    word = rng.choice(POSITIVE_WORDS if word_polarity == POSITIVE else NEGATIVE_WORDS)
    verb = rng.choice(VERBS)
    if negated:
        text = f"{rng.choice(SUBJECTS)} {verb} {rng.choice(NEGATIONS)} {word}"
    else:
        text = f"{rng.choice(SUBJECTS)} {verb} {rng.choice(INTENSIFIERS)}{word}"
    if rng.random() < 0.35:
        text = f"{text} {rng.choice(FILLER)}"
    return text, polarity


def generate_sentence(rng: random.Random) -> Sentence:
    """One sentence: a plain clause, a contrast of two clauses, or an 'although' construction."""
    label = rng.randrange(2)
    shape = rng.random()
    if shape < 0.5:
        text, _ = _clause(rng, label, negate_probability=0.25)
    elif shape < 0.75:
        first, _ = _clause(rng, 1 - label, negate_probability=0.25)
        second, _ = _clause(rng, label, negate_probability=0.25)
        text = f"{first} , {rng.choice(CONTRAST_BUT)} {second}"
    else:
        first, _ = _clause(rng, 1 - label, negate_probability=0.25)
        second, _ = _clause(rng, label, negate_probability=0.25)
        text = f"{rng.choice(CONTRAST_ALTHOUGH)} {first} , {second}"
    if rng.random() < 0.3:
        text = f"{text} , {rng.choice(FILLER)}"
    text = f"{rng.choice(OPENERS)}{text} ."
    return Sentence(text=text, label=label)


def generate_split(seed: int, count: int) -> list[Sentence]:
    """``count`` sentences drawn from a generator seeded with ``seed``."""
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    rng = random.Random(seed)
    return [generate_sentence(rng) for _ in range(count)]
