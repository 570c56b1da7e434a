#!/usr/bin/env python
# coding: utf-8

# # Assignment 2, §2: Building your own mini transformer
#
# In §2.1 you write causal multi-head scaled dot-product self-attention from scratch.

# In[1]:


get_ipython().system('pip install -q tqdm')
get_ipython().run_line_magic('matplotlib', 'inline')
import math

import torch
import torch.nn.functional as F
from torch import nn


# ## 2.1 Implementing attention from scratch
#
# All tensors are batch-first: `(B, n_tok, n_embd)`.

# In[2]:


DEVICE = "cpu"  # I don't have a GPU at home


# ### Step 0: the projections, and the function that ties everything together

# In[3]:


def init_qkv_proj(n_embd):
    """Given: the query, key and value projections W_Q, W_K, W_V, each n_embd -> n_embd with bias."""
    return (nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd))


# In[4]:


def self_attention(Q, K, V, n_heads=1, causal=True):
    """Causal multi-head scaled dot-product self-attention, without an output projection."""
    n_embd = Q.shape[-1]
    Q, K, V = split_heads_qkv(Q, K, V, n_heads)
    A = pairwise_similarities(Q, K)
    A = attn_scaled(A, n_embd, n_heads)
    if causal:
        mask = make_causal_mask(A.shape[-1])
        A = apply_causal_mask(mask, A)
    A = attn_softmax(A)
    return merge_heads(compute_outputs(A, V))


# ### Step 1: the core of attention

# In[5]:


def pairwise_similarities(Q, K):
    # dot product of every query with every key
    return torch.matmul(Q, K.transpose(-2, -1))

def attn_scaled(A, n_embd, n_heads):
    head_size = n_embd / n_heads
    return A / math.sqrt(head_size)

def attn_softmax(A):
    return F.softmax(A, dim=0)

print(torch.randn(3000, 3000))

def attn_softmax(A):
    # fixed: softmax over the keys, not the batch
    return F.softmax(A, dim=-1)

def compute_outputs(A, V):
    return torch.matmul(A, V)


# ### Step 2: causal masking

# In[6]:


def make_causal_mask(n_tok):
    return torch.tril(torch.ones(n_tok, n_tok, device=DEVICE))

def apply_causal_mask(mask, A):
    mask = mask.to(A.device)
    return A.masked_fill(mask == 0, float("-inf"))

print(make_causal_mask(5000))
print(self_attention(torch.randn(64, 500, 48), torch.randn(64, 500, 48), torch.randn(64, 500, 48), n_heads=3))


# ### Step 3: multiple heads

# In[7]:


def split_heads_qkv(Q, K, V, n_heads):
    """Given: split_heads applied to each of Q, K and V."""
    return (split_heads(Q, n_heads), split_heads(K, n_heads), split_heads(V, n_heads))

def split_heads(x, n_heads):
    B, n_tok, n_embd = x.shape
    return x.view(B, n_tok, n_heads, n_embd // n_heads).transpose(1, 2)

def merge_heads(y):
    B, n_heads, n_tok, d = y.shape
    return y.transpose(1, 2).contiguous().view(B, n_tok, n_heads * d)


# ### Checking against PyTorch

# In[8]:


TOLERANCE = 1e-5


# In[9]:


def MHA_wrapper(query, key, value, n_heads=1, causal=False):
    """PyTorch's multi-head attention with identity in/out projections, no biases and no dropout."""
    n_tok, n_embd = query.shape[1], query.shape[2]
    future = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool, device=query.device))
    output, _ = F.multi_head_attention_forward(
        query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1),
        embed_dim_to_check=n_embd, num_heads=n_heads,
        in_proj_weight=torch.eye(n_embd, device=query.device).repeat(3, 1), in_proj_bias=None,
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
        out_proj_weight=torch.eye(n_embd, device=query.device), out_proj_bias=None,
        training=False, need_weights=False, attn_mask=future if causal else None,
    )
    return output.transpose(0, 1)


# In[10]:


def compare_with_pytorch(n_heads, causal):
    torch.manual_seed(447)
    test_input = torch.randn(1, 10, 6)
    expected = MHA_wrapper(test_input, test_input, test_input, n_heads=n_heads, causal=causal)
    got = self_attention(test_input, test_input, test_input, n_heads=n_heads, causal=causal)
    difference = (got - expected).abs().max().item()
    print(f"n_heads={n_heads}, causal={causal}: max abs difference {difference:.2e}")


# **Test 1**

# In[11]:


compare_with_pytorch(n_heads=1, causal=False)


# **Test 2**

# In[12]:


compare_with_pytorch(n_heads=1, causal=True)


# **Test 3**

# In[13]:


compare_with_pytorch(n_heads=3, causal=True)


# ## 2.2 Experimenting with your attention
#
# Your attention can now drive a language model.

# In[14]:


import os
from pathlib import Path

import matplotlib.pyplot as plt
import tinygpt

DEVICE = "cuda"  # switched the runtime to a T4 for training

CORPUS_DIR = Path("/content/drive/MyDrive/cse447/a1-data")
paths = tinygpt.corpus_paths(CORPUS_DIR)
train_sentences = tinygpt.read_tokens_file(paths["train"])
dev_sentences = tinygpt.read_tokens_file(paths["dev"])
vocab = tinygpt.Vocabulary.build(train_sentences, min_count=3)
train_docs = tinygpt.encode_corpus(train_sentences, vocab)
dev_docs = tinygpt.encode_corpus(dev_sentences, vocab)


# ### Your experiment: change the attention here

# In[15]:


experiment_attn_init_fn = init_qkv_proj
experiment_attn_fn = self_attention

torch.manual_seed(447)
config = tinygpt.gpt_nano(
    vocab_size=len(vocab),
    attn_init_fn=experiment_attn_init_fn,
    attn_fn=experiment_attn_fn,
    pad_token=vocab.pad_id,
)
model = tinygpt.GPT(config).to(DEVICE)
history = tinygpt.train(model, train_docs, dev_docs, steps=3000, batch_size=32, learning_rate=5e-4, eval_every=200)

plt.plot(history.steps, history.train_loss)
plt.show()
print(f"validation perplexity: {tinygpt.perplexity(model, dev_docs):.2f}")

