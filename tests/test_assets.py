"""The offline assets: deterministic, shaped like roberta-base and gpt3mix/sst2, hard for a bag of words."""

import json
from collections import Counter

import pytest
import torch

from a2.assets import offline_assets
from a2.assets.offline import (
    HELDOUT_SEED_VARIABLE,
    SPLIT_SEEDS,
    SPLIT_SIZES,
    build_offline_assets,
    split_seed,
)
from a2.assets.sentences import NEGATIONS, NEGATIVE, POSITIVE, generate_split
from grader.table import load_table


@pytest.fixture(scope="module")
def assets():
    return offline_assets()


def read_split(assets, split):
    return [json.loads(line) for line in assets.split_file(split).read_text().splitlines()]


def test_a_second_build_gives_the_same_bytes(assets, tmp_path):
    rebuilt = build_offline_assets(tmp_path / "again")
    for relative in (
        "model/model.safetensors",
        "model/tokenizer.json",
        "model/config.json",
        "data/test.jsonl",
    ):
        assert (rebuilt.root / relative).read_bytes() == (assets.root / relative).read_bytes(), relative


def test_data_loads_with_datasets_in_sst2_sizes_and_balanced_labels(assets):
    from datasets import load_dataset

    loaded = load_dataset(str(assets.data_dir))
    assert {split: len(loaded[split]) for split in loaded} == SPLIT_SIZES
    assert loaded["train"].column_names == ["text", "label"]
    share_negative = sum(loaded["train"][:]["label"]) / SPLIT_SIZES["train"]
    assert 0.45 < share_negative < 0.55


def test_labels_follow_gpt3mix_sst2_zero_is_positive():
    sentences = generate_split(seed=5, count=400)
    negation_words = {word for negation in NEGATIONS for word in negation.split()}
    plain = [s for s in sentences if "," not in s.text and not negation_words & set(s.text.split())]
    assert plain, "expected some plain sentences"
    for sentence in plain:
        words = set(sentence.text.split())
        if words & {"charming", "brilliant", "delightful"}:
            assert sentence.label == POSITIVE, sentence
        if words & {"dull", "tedious", "boring"}:
            assert sentence.label == NEGATIVE, sentence


def test_tokenizer_and_model_load_like_roberta_and_take_512_tokens(assets):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(assets.model_dir)
    assert [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id] == [0, 1, 2]
    assert tokenizer.unk_token_id == 3 and tokenizer.mask_token_id == 4 and len(tokenizer) > 500
    model = AutoModelForSequenceClassification.from_pretrained(assets.model_dir).eval()
    long_text = " ".join(s.text for s in generate_split(seed=6, count=80))
    encoding = tokenizer([long_text], truncation=True, max_length=512, return_tensors="pt")
    assert encoding["input_ids"].shape == (1, 512)
    with torch.no_grad():
        assert model(**encoding).logits.shape == (1, 2)


def test_the_sandbox_may_read_the_model_and_never_the_data(assets):
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in assets.model_dir.iterdir())
    assert assets.data_dir.stat().st_mode & 0o777 == 0o700


def test_a_bag_of_words_stays_well_below_the_threshold(assets):
    """Word counts alone, fitted by logistic regression, must not pass the offline threshold."""
    # The validation split: its seed is fixed, while the held-out one is secret per installation.
    train, test = read_split(assets, "train"), read_split(assets, "validation")
    vocabulary = {w: i for i, w in enumerate(sorted({w for e in train for w in e["text"].split()}))}

    def counts(rows):
        matrix = torch.zeros(len(rows), len(vocabulary))
        for row, example in enumerate(rows):
            for word, count in Counter(example["text"].split()).items():
                if word in vocabulary:
                    matrix[row, vocabulary[word]] = count
        return matrix, torch.tensor([e["label"] for e in rows], dtype=torch.float)

    (x_train, y_train), (x_test, y_test) = counts(train), counts(test)
    torch.manual_seed(0)
    linear = torch.nn.Linear(len(vocabulary), 1)
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(linear(x_train).squeeze(1), y_train).backward()
        optimizer.step()
    accuracy = ((linear(x_test).squeeze(1) > 0).float() == y_test).float().mean().item()
    assert 0.6 < accuracy < load_table().profile("offline").threshold - 0.1


def test_a_secret_held_out_seed_changes_only_the_held_out_split(monkeypatch):
    default = split_seed("test")
    monkeypatch.setenv(HELDOUT_SEED_VARIABLE, "987654321")
    assert split_seed("test") == 987654321 != default
    assert split_seed("train") == SPLIT_SEEDS["train"]
    assert split_seed("validation") == SPLIT_SEEDS["validation"]


def test_the_held_out_seed_is_secret_per_installation_and_reused(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    seed = split_seed("test", first)
    assert split_seed("test", first) == seed, "a regrade must draw the same held-out split"
    assert (first / "heldout-seed").stat().st_mode & 0o777 == 0o600
    assert split_seed("test", second) != seed
