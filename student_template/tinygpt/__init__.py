# Generated for the course's release: part of the tinygpt package the notebooks use.
"""tinygpt: a small GPT whose attention is supplied by the caller.

Used by Assignment 2, §2.2 (train with your own attention) and by the grader (check that a
submission's attention can train). It imports only torch and tqdm. The whole public API:

- ``GPTConfig``, ``gpt_nano``: sizes plus ``attn_init_fn``, ``attn_fn`` and ``pad_token``;
- ``GPT``: ``model(idx, targets)`` returns ``(logits, loss)``; ``model.generate`` samples;
- ``Vocabulary``, ``read_tokens_file``, ``encode_corpus``, ``pad_batch``: data in the course's layout;
- ``write_synthetic_corpus``, ``corpus_paths``: a small generated corpus in that layout;
- ``train``, ``TrainingHistory``, ``pick_device``: the training loop;
- ``document_losses``, ``perplexity``: evaluation with padding excluded.
"""

from tinygpt.config import MAX_TOKENS, GPTConfig, gpt_nano
from tinygpt.corpus import corpus_paths, write_synthetic_corpus
from tinygpt.evaluate import document_losses, perplexity
from tinygpt.model import GPT
from tinygpt.trainer import TrainingHistory, pick_device, train
from tinygpt.vocab import Vocabulary, encode_corpus, pad_batch, read_tokens_file

__all__ = [
    "GPT",
    "MAX_TOKENS",
    "GPTConfig",
    "TrainingHistory",
    "Vocabulary",
    "corpus_paths",
    "document_losses",
    "encode_corpus",
    "gpt_nano",
    "pad_batch",
    "perplexity",
    "pick_device",
    "read_tokens_file",
    "train",
    "write_synthetic_corpus",
]
