# Generated for the course's release: part of the tinygpt package the notebooks use.
"""A small synthetic English-like corpus in the course's ``.tokens`` layout.

The course trains on the 1b_benchmark files of Assignment 1, which cannot be fetched here. This
generator writes files of the same layout (one whitespace-tokenised sentence per line) from a tiny
grammar with agreement, nesting and repeated phrases, so that attention has something to learn
and validation perplexity falls well below the vocabulary size.
"""

import random
from pathlib import Path

SPLITS = ("train", "dev", "test")

_NOUNS = {
    "singular": ["cat", "dog", "teacher", "student", "farmer", "robot", "child", "river", "king", "bird"],
    "plural": [
        "cats",
        "dogs",
        "teachers",
        "students",
        "farmers",
        "robots",
        "children",
        "rivers",
        "kings",
        "birds",
    ],
}
_VERBS = {
    "singular": ["sees", "likes", "follows", "finds", "helps", "watches", "hears", "remembers"],
    "plural": ["see", "like", "follow", "find", "help", "watch", "hear", "remember"],
}
_INTRANSITIVE = {"singular": ["sleeps", "sings", "waits", "runs"], "plural": ["sleep", "sing", "wait", "run"]}
_ADJECTIVES = ["old", "young", "happy", "tired", "small", "green", "quiet", "clever"]
_DETERMINERS = {"singular": ["the", "a", "this", "that"], "plural": ["the", "some", "these", "those"]}
_PLACES = ["in the garden", "near the river", "at the market", "under the bridge", "on the hill"]
_TIMES = ["today", "yesterday", "at night", "every morning", "in winter"]


def corpus_paths(directory: str | Path, prefix: str = "1b_benchmark") -> dict[str, Path]:
    """Paths of the train/dev/test files in ``directory``, named as the course names them."""
    return {split: Path(directory) / f"{prefix}.{split}.tokens" for split in SPLITS}


def _noun_phrase(rng: random.Random, number: str, relative_clause: bool = True) -> list[str]:
    """Determiner, maybe an adjective, a noun, and maybe a relative clause ("that the dog sees")."""
    words = [rng.choice(_DETERMINERS[number])]
    if rng.random() < 0.4:
        words.append(rng.choice(_ADJECTIVES))
    words.append(rng.choice(_NOUNS[number]))
    if relative_clause and rng.random() < 0.15:
        inner = rng.choice(["singular", "plural"])
        words += ["that", *_noun_phrase(rng, inner, relative_clause=False), rng.choice(_VERBS[inner])]
    return words


def synthetic_sentence(rng: random.Random) -> list[str]:
    """One sentence whose verb agrees with its subject, even across a relative clause."""
    number = rng.choice(["singular", "plural"])
    words = _noun_phrase(rng, number)
    if rng.random() < 0.3:
        words.append(rng.choice(_INTRANSITIVE[number]))
    else:
        words += [rng.choice(_VERBS[number]), *_noun_phrase(rng, rng.choice(["singular", "plural"]))]
    if rng.random() < 0.3:
        words += rng.choice(_PLACES).split()
    if rng.random() < 0.2:
        words += rng.choice(_TIMES).split()
    if rng.random() < 0.15:
        words += ["and", *synthetic_sentence(rng)[:-1]]
    return [*words, "."]


def write_synthetic_corpus(
    directory: str | Path, sizes: tuple[int, int, int] = (20000, 2000, 2000), seed: int = 447
) -> dict[str, Path]:
    """Write train/dev/test ``.tokens`` files of ``sizes`` sentences; the same seed writes the same bytes."""
    rng = random.Random(seed)
    paths = corpus_paths(directory)
    Path(directory).mkdir(parents=True, exist_ok=True)
    for split, n_sentences in zip(SPLITS, sizes, strict=True):
        lines = (" ".join(synthetic_sentence(rng)) for _ in range(n_sentences))
        paths[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
