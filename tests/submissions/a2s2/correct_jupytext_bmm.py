# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown]
# # A2S2 — attention with batched matrix products

# %%
# !pip install torch
import math

import torch
import torch.nn as nn


# %%
def init_qkv_proj(n_embd):
    return nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)


def _flat(x):
    return x.reshape(-1, x.shape[-2], x.shape[-1])


def pairwise_similarities(Q, K):
    out = torch.bmm(_flat(Q), _flat(K).transpose(1, 2))
    return out.reshape(*Q.shape[:-1], K.shape[-2])


def attn_scaled(A, n_embd, n_heads):
    return A / math.sqrt(n_embd / n_heads)


def attn_softmax(A):
    return nn.functional.softmax(A, dim=-1)


def compute_outputs(A, V):
    out = torch.bmm(_flat(A), _flat(V))
    return out.reshape(*A.shape[:-1], V.shape[-1])


# %%
def make_causal_mask(n_tok):
    return torch.tril(torch.ones(n_tok, n_tok))


def apply_causal_mask(mask, A):
    mask = mask.to(A.device)
    return A * mask + (1 - mask) * -1e9


# %%
def split_heads(x, n_heads):
    return x.reshape(x.shape[0], x.shape[1], n_heads, -1).transpose(1, 2)


def split_heads_qkv(Q, K, V, n_heads):
    return (split_heads(Q, n_heads), split_heads(K, n_heads), split_heads(V, n_heads))


def merge_heads(y):
    return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)


def self_attention(Q, K, V, n_heads=1, causal=True):
    n_embd = Q.shape[-1]
    Q, K, V = split_heads_qkv(Q, K, V, n_heads)
    A = attn_scaled(pairwise_similarities(Q, K), n_embd, n_heads)
    if causal:
        A = apply_causal_mask(make_causal_mask(A.shape[-1]), A)
    return merge_heads(compute_outputs(attn_softmax(A), V))


# %%
# model = GPT(config); trainer.run()
