#!/usr/bin/env python
# coding: utf-8

# # A2S2: attention from scratch

# In[1]:


get_ipython().system('pip install einops')
get_ipython().run_line_magic('load_ext', 'autoreload')
import torch
from torch import nn


# In[2]:


def init_qkv_proj(n_embd):
    return tuple(nn.Linear(n_embd, n_embd, bias=True) for _ in range(3))


def pairwise_similarities(Q, K):
    return torch.einsum("...id,...jd->...ij", Q, K)


def attn_scaled(A, n_embd, n_heads):
    return A * (n_embd / n_heads) ** -0.5


def attn_softmax(A):
    return A.softmax(dim=A.dim() - 1)


def compute_outputs(A, V):
    return torch.einsum("...ij,...jd->...id", A, V)


# In[3]:


def make_causal_mask(n_tok):
    return torch.ones(n_tok, n_tok).tril()


def apply_causal_mask(mask, A):
    return A.masked_fill(mask.to(A.device) == 0, float("-inf"))


def split_heads(x, n_heads):
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).permute(0, 2, 1, 3)


def split_heads_qkv(Q, K, V, n_heads):
    return (split_heads(Q, n_heads), split_heads(K, n_heads), split_heads(V, n_heads))


def merge_heads(y):
    B, H, T, D = y.shape
    return y.permute(0, 2, 1, 3).contiguous().view(B, T, H * D)


# In[4]:


def self_attention(Q, K, V, n_heads=1, causal=True):
    n_embd = Q.shape[-1]
    Q, K, V = split_heads_qkv(Q, K, V, n_heads)
    A = attn_scaled(pairwise_similarities(Q, K), n_embd, n_heads)
    if causal:
        A = apply_causal_mask(make_causal_mask(Q.shape[-2]), A)
    return merge_heads(compute_outputs(attn_softmax(A), V))


# In[5]:


for epoch in range(100):
    train_one_epoch()
