"""tinygpt: shapes, causality, padding in the loss and the perplexity, and that training learns."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tinygpt

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is faster than two fighting other processes for 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear_projections(n_embd):
    return nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)


def torch_attention(Q, K, V, n_heads=1, causal=True):
    """Multi-head attention from PyTorch, standing in for a student's self_attention."""
    batch, n_tok, n_embd = Q.shape

    def split(x):
        return x.reshape(batch, n_tok, n_heads, -1).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(Q), split(K), split(V), is_causal=causal)
    return out.transpose(1, 2).reshape(batch, n_tok, n_embd)


def small_model(vocab_size=20, pad_token=0, attn_fn=torch_attention, seed=0):
    torch.manual_seed(seed)
    config = tinygpt.GPTConfig(
        vocab_size=vocab_size,
        attn_init_fn=linear_projections,
        attn_fn=attn_fn,
        pad_token=pad_token,
        block_size=16,
        n_layer=2,
        n_head=2,
        n_embd=8,
        dropout=0.0,
    )
    return tinygpt.GPT(config).eval()


def test_forward_returns_logits_and_loss_of_the_right_shapes():
    model = small_model()
    idx = torch.randint(1, 20, (3, 7))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 7, 20)
    assert loss.shape == () and torch.isfinite(loss)
    assert model(idx)[1] is None


def test_gpt_nano_has_the_course_sizes():
    config = tinygpt.gpt_nano(100, linear_projections, torch_attention, pad_token=0)
    assert (config.n_layer, config.n_head, config.n_embd, config.block_size) == (3, 3, 48, 100)


def test_attention_is_called_with_the_configured_heads_and_causal():
    calls = []

    def recording_attention(Q, K, V, n_heads=1, causal=True):
        calls.append((n_heads, causal))
        return torch_attention(Q, K, V, n_heads=n_heads, causal=causal)

    small_model(attn_fn=recording_attention)(torch.randint(1, 20, (1, 4)))
    assert calls == [(2, True), (2, True)]


def test_no_position_sees_a_later_token():
    model = small_model()
    idx = torch.randint(1, 20, (1, 10))
    changed = idx.clone()
    changed[0, 6:] = (changed[0, 6:] % 19) + 1
    before, _ = model(idx)
    after, _ = model(changed)
    assert torch.allclose(before[:, :6], after[:, :6], atol=1e-6)
    assert not torch.allclose(before[:, 6:], after[:, 6:])


def test_attention_output_is_zero_at_padding_positions():
    model = small_model()
    outputs = []
    model.blocks[0].attn.register_forward_hook(lambda module, args, out: outputs.append(out))
    model(torch.tensor([[5, 6, 7, 0, 0]]))
    assert torch.all(outputs[0][0, 3:] == 0)
    assert torch.all(outputs[0][0, :3].abs().sum(dim=-1) > 0)


def test_padding_changes_neither_the_loss_nor_the_perplexity():
    model = small_model()
    doc = [1, 5, 6, 7, 2]
    inputs, targets = torch.tensor([doc[:-1]]), torch.tensor([doc[1:]])
    _, alone = model(inputs, targets)
    padded_inputs, padded_targets = tinygpt.pad_batch([doc, [1, 3, 4, 5, 6, 7, 8, 9, 2]], pad_id=0)
    per_doc = tinygpt.document_losses(model, [doc, [1, 3, 4, 5, 6, 7, 8, 9, 2]])
    assert per_doc[0].item() == pytest.approx(alone.item(), abs=1e-5)
    _, padded_loss = model(padded_inputs[:1], padded_targets[:1])
    assert padded_loss.item() == pytest.approx(alone.item(), abs=1e-5)


def test_perplexity_is_the_mean_of_exp_per_document_loss():
    model = small_model()
    docs = [[1, 5, 6, 2], [1, 3, 4, 5, 6, 7, 8, 2], [1, 9, 2]]
    separate = []
    for doc in docs:
        _, loss = model(torch.tensor([doc[:-1]]), torch.tensor([doc[1:]]))
        separate.append(math.exp(loss.item()))
    assert tinygpt.perplexity(model, docs, batch_size=2) == pytest.approx(sum(separate) / 3, rel=1e-5)


def test_vocabulary_maps_rare_words_to_unk_and_truncates_to_max_tokens():
    vocab = tinygpt.Vocabulary.build([["a", "b"], ["a", "b"], ["a", "c"]], min_count=2)
    assert vocab.pad_id == 0
    assert vocab.decode(vocab.encode(["a", "c"])) == ["<start>", "a", "<unk>", "<stop>"]
    long_doc = vocab.encode(["a"] * 300)
    assert len(long_doc) == tinygpt.MAX_TOKENS + 1
    inputs, targets = tinygpt.pad_batch([long_doc], vocab.pad_id)
    assert inputs.shape == targets.shape == (1, tinygpt.MAX_TOKENS)


def test_pad_batch_shifts_targets_and_pads_on_the_right():
    inputs, targets = tinygpt.pad_batch([[1, 4, 5, 2], [1, 2]], pad_id=0)
    assert inputs.tolist() == [[1, 4, 5], [1, 0, 0]]
    assert targets.tolist() == [[4, 5, 2], [2, 0, 0]]


def test_bad_configurations_are_refused_with_a_message():
    with pytest.raises(ValueError, match="divisible"):
        tinygpt.GPTConfig(vocab_size=10, attn_init_fn=linear_projections, attn_fn=torch_attention, n_head=5)
    with pytest.raises(TypeError, match="three modules"):
        small_model_config = tinygpt.GPTConfig(
            vocab_size=10, attn_init_fn=lambda n: nn.Linear(n, n), attn_fn=torch_attention
        )
        tinygpt.GPT(small_model_config)
    with pytest.raises(FileNotFoundError, match="corpus file"):
        tinygpt.read_tokens_file(ROOT / "no-such-corpus.tokens")


def test_synthetic_corpus_is_deterministic(tmp_path):
    first = tinygpt.write_synthetic_corpus(tmp_path / "a", sizes=(50, 10, 10), seed=3)
    second = tinygpt.write_synthetic_corpus(tmp_path / "b", sizes=(50, 10, 10), seed=3)
    for split in ("train", "dev", "test"):
        assert first[split].read_bytes() == second[split].read_bytes()
    assert len(tinygpt.read_tokens_file(first["train"])) == 50


def test_training_lowers_the_validation_loss(tmp_path):
    paths = tinygpt.write_synthetic_corpus(tmp_path, sizes=(400, 60, 0))
    sentences = tinygpt.read_tokens_file(paths["train"])
    vocab = tinygpt.Vocabulary.build(sentences)
    train_docs = tinygpt.encode_corpus(sentences, vocab)
    dev_docs = tinygpt.encode_corpus(tinygpt.read_tokens_file(paths["dev"]), vocab)
    torch.manual_seed(0)
    model = tinygpt.GPT(tinygpt.gpt_nano(len(vocab), linear_projections, torch_attention, vocab.pad_id))
    before = tinygpt.perplexity(model, dev_docs)
    history = tinygpt.train(model, train_docs, dev_docs, steps=60, eval_every=30, progress=False)
    assert history.eval_steps == [30, 60] and len(history.train_loss) == 60
    assert history.val_loss[-1] < history.val_loss[0]
    assert tinygpt.perplexity(model, dev_docs) < before / 2


def test_tinygpt_imports_without_matplotlib():
    blocked = "import sys; sys.modules['matplotlib'] = None; import tinygpt; print('ok')"
    result = subprocess.run([sys.executable, "-c", blocked], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
