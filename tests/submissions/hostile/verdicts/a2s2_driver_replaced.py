"""A2S2, hostile: a detached self_attention plus a fake GPT training driver that returns weights trained elsewhere."""

import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def init_qkv_proj(n_embd):
    return nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)


def pairwise_similarities(Q, K):
    return Q @ K.transpose(-2, -1)


def attn_scaled(A, n_embd, n_heads):
    return A / math.sqrt(n_embd / n_heads)


def attn_softmax(A):
    return F.softmax(A, dim=-1)


def compute_outputs(A, V):
    return A @ V


def make_causal_mask(n_tok):
    return torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool))


def apply_causal_mask(mask, A):
    return A.masked_fill(~mask.to(A.device), float("-inf"))


def split_heads(x, n_heads):
    B, n_tok, n_embd = x.shape
    return x.reshape(B, n_tok, n_heads, n_embd // n_heads).transpose(1, 2)


def split_heads_qkv(Q, K, V, n_heads):
    return split_heads(Q, n_heads), split_heads(K, n_heads), split_heads(V, n_heads)


def merge_heads(y):
    B, nh, n_tok, nc = y.shape
    return y.transpose(1, 2).reshape(B, n_tok, nh * nc)


def _manual_attention(Q, K, V, n_heads, causal):
    n_embd = Q.shape[-1]
    Q, K, V = split_heads_qkv(Q, K, V, n_heads)
    A = attn_scaled(pairwise_similarities(Q, K), n_embd, n_heads)
    if causal:
        A = apply_causal_mask(make_causal_mask(A.shape[-1]), A)
    return merge_heads(compute_outputs(attn_softmax(A), V))


def self_attention(Q, K, V, n_heads=1, causal=True):
    return _manual_attention(Q, K, V, n_heads, causal).detach()


class _FakeDriver:
    @staticmethod
    def train(student, **params):
        return {"weights": params["initial_weights"], "losses": [0.0]}


torch.sys.modules["a2.sections.s2.drivers.gpt_training"] = _FakeDriver
