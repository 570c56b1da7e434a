"""A2S2, hostile: PyTorch's multi_head_attention_forward run in a worker thread through asyncio.to_thread, where the operator recorder's modes (per thread) do not reach."""

import asyncio
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


def self_attention(Q, K, V, n_heads=1, causal=True):
    n_tok, n_embd = Q.shape[1], Q.shape[-1]
    eye = torch.eye(n_embd, dtype=Q.dtype)
    mask = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool)) if causal else None
    args = (Q.transpose(0, 1), K.transpose(0, 1), V.transpose(0, 1), n_embd, n_heads, eye.repeat(3, 1),
            None, None, None, False, 0.0, eye, None)
    options = dict(training=False, need_weights=False, attn_mask=mask)
    out, _ = asyncio.run(asyncio.to_thread(F.multi_head_attention_forward, *args, **options))
    return out.transpose(0, 1)
