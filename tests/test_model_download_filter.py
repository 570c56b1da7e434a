"""The image downloads only the model files grading loads (a2/sections/s3/prepare.py's MODEL_FILES)."""

from __future__ import annotations

from huggingface_hub.utils import filter_repo_objects

from a2.sections.s3.prepare import MODEL_FILES

# roberta-base's repository on the Hugging Face Hub (main): one model in every framework's format,
# 2.8 GB in all, of which grading loads about 0.5 GB.
ROBERTA_BASE_FILES = [
    ".gitattributes",
    "README.md",
    "config.json",
    "dict.txt",
    "flax_model.msgpack",
    "merges.txt",
    "model.safetensors",
    "pytorch_model.bin",
    "rust_model.ot",
    "tf_model.h5",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
]


def test_only_the_configuration_safetensors_weights_and_tokenizer_are_fetched() -> None:
    fetched = set(filter_repo_objects(ROBERTA_BASE_FILES, allow_patterns=MODEL_FILES))
    assert fetched == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
        "merges.txt",
    }
