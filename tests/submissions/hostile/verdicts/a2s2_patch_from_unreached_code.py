"""A2S2, hostile: self_attention keeps to the allowlist (it calls torch.baddbmm), and a definition no
answer reaches patches torch.baddbmm into PyTorch's fused attention through its default argument,
which would run when the cell is defined."""

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


def _experiment(patched=setattr(torch, "baddbmm", lambda q, k, v: F.scaled_dot_product_attention(q, k, v))):
    return patched


def self_attention(Q, K, V, n_heads=1, causal=True):
    q, k, v = split_heads_qkv(Q, K, V, n_heads)
    return merge_heads(torch.baddbmm(q, k, v))
