# Generated for the course's release: part of the tinygpt package the notebooks use.
"""Tokenisation helpers: whitespace-tokenised ``.tokens`` files, a vocabulary, and padded batches.

The course's corpus (1b_benchmark ``*.tokens``) holds one whitespace-tokenised sentence per line;
each sentence becomes one document ``<start> w1 ... wn <stop>``, cut to ``MAX_TOKENS`` inputs.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from tinygpt.config import MAX_TOKENS

PAD, UNK, START, STOP = "<pad>", "<unk>", "<start>", "<stop>"
SPECIAL_TOKENS = (PAD, UNK, START, STOP)


def read_tokens_file(path: str | Path) -> list[list[str]]:
    """Read one whitespace-tokenised sentence per non-empty line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {path} does not exist; check the corpus directory.")
    with path.open(encoding="utf-8") as lines:
        return [line.split() for line in lines if line.strip()]


@dataclass(frozen=True)
class Vocabulary:
    """Token strings in id order; the special tokens come first, so ``<pad>`` is id 0."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 3) -> "Vocabulary":
        """Keep words seen at least ``min_count`` times; rarer ones will map to ``<unk>``."""
        counts = Counter(word for sentence in sentences for word in sentence)
        kept = sorted(word for word, n in counts.items() if n >= min_count and word not in SPECIAL_TOKENS)
        return cls(SPECIAL_TOKENS + tuple(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def ids(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.tokens)}

    @property
    def pad_id(self) -> int:
        return self.tokens.index(PAD)

    def encode(self, sentence: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[int]:
        """``<start> sentence <stop>`` as ids, cut so that it yields at most ``max_tokens`` inputs."""
        ids = self.ids
        unk = ids[UNK]
        encoded = [ids[START], *(ids.get(word, unk) for word in sentence), ids[STOP]]
        return encoded[: max_tokens + 1]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]


def encode_corpus(
    sentences: Iterable[Sequence[str]], vocab: Vocabulary, max_tokens: int = MAX_TOKENS
) -> list[list[int]]:
    """Encode every sentence into one document of ids (see ``Vocabulary.encode``)."""
    return [vocab.encode(sentence, max_tokens) for sentence in sentences]


def pad_batch(documents: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (each document minus its last id) and targets (shifted by one), right-padded with ``pad_id``."""
    if not documents or any(len(doc) < 2 for doc in documents):
        raise ValueError("every document needs at least two ids (an input and a target).")
    width = max(len(doc) for doc in documents) - 1
    inputs = torch.full((len(documents), width), pad_id, dtype=torch.long)
    targets = torch.full((len(documents), width), pad_id, dtype=torch.long)
    for row, doc in enumerate(documents):
        inputs[row, : len(doc) - 1] = torch.tensor(doc[:-1])
        targets[row, : len(doc) - 1] = torch.tensor(doc[1:])
    return inputs, targets
