"""A2S2, hostile: PyTorch's quantizable MultiheadAttention (torch.ao.nn.quantizable), written in plain
tensor operations, so no fused attention kernel runs. Every attribute is read by a class pattern of a
match statement (`case object(ao=...)`), which names attributes as keywords, not as attribute nodes."""

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
    n_tok, n_embd = Q.shape[1], Q.shape[2]
    match torch:
        case object(ao=object(nn=object(quantizable=object(MultiheadAttention=Attention)))):
            pass
    mha = Attention(n_embd, n_heads, bias=False).to(Q.device)
    match mha:
        case object(
            linear_Q=object(weight=w_q), linear_K=object(weight=w_k), linear_V=object(weight=w_v), out_proj=object(weight=w_o)
        ):
            pass
    with torch.no_grad():
        for weight in (w_q, w_k, w_v, w_o):
            weight[:] = torch.eye(n_embd)
    mask = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool, device=Q.device)) if causal else None
    out, _ = mha(Q.transpose(0, 1), K.transpose(0, 1), V.transpose(0, 1), attn_mask=mask, need_weights=False)
    return out.transpose(0, 1)
