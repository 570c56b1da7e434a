# %% [markdown]
# # Assignment 2, §2: Building your own mini transformer
#
# In §2.1 you write causal multi-head scaled dot-product self-attention from scratch, one small
# function at a time, and check it against PyTorch's own implementation. In §2.2 you plug your
# attention into a small GPT (the `tinygpt` package that comes with this notebook), train it, and
# run an experiment of your choice on the attention mechanism.
#
# **What to hand in.** Fill in every `TODO` of §2.1 and download the notebook as `A2S2.py` (in Colab:
# *File → Download → Download .py*) for Gradescope. Only the §2.1 code is graded automatically; the
# §2.2 code is yours to change at will and is not graded. §2.2 is graded on your write-up (at most
# five pages).

# %%
# %matplotlib inline
import math

import torch
import torch.nn.functional as F
from torch import nn

# %% [markdown]
# ## 2.1 Implementing attention from scratch
#
# The scaffold below splits attention into many tiny functions. In real code this much splitting
# would be poor design; here each function is one idea, so you can build and test one idea at a
# time. Once the pieces are in place, test cells compare your `self_attention` with PyTorch's
# `multi_head_attention_forward`; a difference close to 0 means your implementation is almost
# certainly right.
#
# Helpful material: the lecture slides on attention and transformers; the PyTorch documentation of
# `torch.nn.functional.scaled_dot_product_attention` (single-head, but clearly written); the attention
# code of Karpathy's minGPT (`mingpt/model.py`). Reading the source of `multi_head_attention_forward`
# is allowed but not recommended: it is long and tuned for speed rather than for reading.
#
# **Rules.** Write the attention yourself: do not call `scaled_dot_product_attention`,
# `multi_head_attention_forward` or `nn.MultiheadAttention` inside these functions. Attention can be
# computed without a single Python loop, and vectorised code is both faster and shorter. Loops are not
# penalised, but in the staff solution every function except `self_attention` is one line. All
# tensors are batch-first: `(B, n_tok, n_embd)`, where `B` is the batch size, `n_tok` the sequence
# length and `n_embd` the embedding size. Your code must also work when the tensors are on a GPU.
#
# {{from-scratch operations}}

# %% [markdown]
# ### Step 0: the projections, and the function that ties everything together
#
# `init_qkv_proj` is given. It makes the three projections $W_Q, W_K, W_V$ as `nn.Linear` layers from
# `n_embd` to `n_embd` features, with bias (keep the bias). The model calls it once per layer and
# applies the three layers to its input to get $Q$, $K$ and $V$ (row $i$ of $Q$ is $q_i$); your
# `self_attention` receives $Q$, $K$, $V$ already projected and never calls it.
#
# `self_attention` is where the steps below come together. Start small: scaled dot-product attention
# with one head and no mask, then add the causal mask (Step 2) and the heads (Step 3). The three test
# cells sit together after Step 3, under *Checking against PyTorch*: run Test 1 once Step 1 works,
# Test 2 after Step 2 and Test 3 after Step 3 (re-run a function's cell after editing it).


# %%
def init_qkv_proj(n_embd):
    """Given: the query, key and value projections W_Q, W_K, W_V, each n_embd -> n_embd with bias."""
    return (nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd))


def self_attention(Q, K, V, n_heads=1, causal=True):
    """Causal multi-head scaled dot-product self-attention, without an output projection.

    Q, K, V: (B, n_tok, n_embd). Returns (B, n_tok, n_embd). With causal=True, token i attends only
    to tokens 0..i.
    """
    # BEGIN SOLUTION combine Steps 1-3: split heads, score, scale, mask, softmax, weight values, merge.
    n_embd = Q.shape[-1]
    Q, K, V = split_heads_qkv(Q, K, V, n_heads)
    A = attn_scaled(pairwise_similarities(Q, K), n_embd, n_heads)
    if causal:
        A = apply_causal_mask(make_causal_mask(A.shape[-1]), A)
    return merge_heads(compute_outputs(attn_softmax(A), V))
    # END SOLUTION


# %% [markdown]
# ### Step 1: the core of attention
#
# **`pairwise_similarities(Q, K)`.** Every query is compared with every key by a dot product,
# $\alpha_{i,j} = q_i \cdot k_j$; all of them at once are the matrix product $A = QK^\top$. Watch out:
# `K.T` reverses *all* dimensions, and your tensors have a batch dimension in front (and will later
# have a head dimension too). Transpose only the last two dimensions (`torch.transpose` or
# `Tensor.transpose` take the two dimensions to swap).


# %%
def pairwise_similarities(Q, K):
    """A = Q K^T over the last two dimensions: (..., n_tok, d) x (..., n_tok, d) -> (..., n_tok, n_tok)."""
    # BEGIN SOLUTION compute A = Q K^T, transposing only the last two dimensions of K.
    return Q @ K.transpose(-2, -1)
    # END SOLUTION


# %% [markdown]
# **`attn_scaled(A, n_embd, n_heads)`.** Scaled attention divides the scores by the square root of the
# size of one head, i.e. multiplies them by $\dfrac{1}{\sqrt{n\_embd / n\_heads}}$.


# %%
def attn_scaled(A, n_embd, n_heads):
    """The scores A divided by sqrt(n_embd / n_heads)."""
    # BEGIN SOLUTION scale the scores by 1 / sqrt(n_embd / n_heads).
    return A / math.sqrt(n_embd / n_heads)
    # END SOLUTION


# %% [markdown]
# **`attn_softmax(A)`.** Each row of $A$ holds how relevant every token is to one query. A softmax
# turns those scores into weights that sum to one. `torch.nn.functional.softmax` needs to be told
# which dimension to normalise over: work out which one it is.


# %%
def attn_softmax(A):
    """Softmax of the scores, normalising each query's weights over the keys."""
    # BEGIN SOLUTION apply a softmax over the right dimension of A.
    return F.softmax(A, dim=-1)
    # END SOLUTION


# %% [markdown]
# **`compute_outputs(A, V)`.** Each output is the sum of the values weighted by the attention weights:
# again a single matrix product, $O = A'V$.


# %%
def compute_outputs(A, V):
    """The outputs: the values weighted by the attention weights A."""
    # BEGIN SOLUTION weight the values by the attention weights.
    return A @ V
    # END SOLUTION


# %% [markdown]
# ### Step 2: causal masking
#
# A language model must not look ahead: token $i$ may attend to itself and to earlier tokens only.
# When `self_attention` is called with `causal=True`, mask the scores accordingly.
#
# **`make_causal_mask(n_tok)`.** An `(n_tok, n_tok)` matrix that is 1 (or `True`) where attending is
# allowed and 0 (or `False`) where it would look into the future: a lower-triangular matrix
# (see `torch.tril`).
#
# **`apply_causal_mask(mask, A)`.** Overwrite the forbidden scores with $-\infty$ *before* the softmax.
# Make sure you can say why this removes those tokens from the weighted sum, and why setting the
# weights to 0 *after* the softmax would not do the same. `torch.where` or `Tensor.masked_fill` help.
# The mask is `(n_tok, n_tok)`; the scores may have batch and head dimensions in front.


# %%
def make_causal_mask(n_tok):
    """(n_tok, n_tok) lower-triangular mask: True/1 where token i may attend to token j (j <= i)."""
    # BEGIN SOLUTION build a lower-triangular (n_tok, n_tok) mask.
    return torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool))
    # END SOLUTION


def apply_causal_mask(mask, A):
    """The scores A with -inf wherever mask is 0/False; mask broadcasts over A's leading dimensions."""
    # BEGIN SOLUTION set the scores the mask forbids to -inf.
    return A.masked_fill(mask.to(A.device) == 0, float("-inf"))
    # END SOLUTION


# %% [markdown]
# ### Step 3: multiple heads
#
# Each head attends separately over its own slice of the embedding. Split $Q$, $K$, $V$ into heads at
# the start and merge the heads' outputs at the end. Matching `multi_head_attention_forward`,
# `self_attention` has no output projection; the GPT in §2.2 adds one after it.
#
# **`split_heads_qkv(Q, K, V, n_heads)`** is given: it applies `split_heads` to all three (using it is
# optional).
#
# **`split_heads(x, n_heads)`.** From `(B, n_tok, n_embd)` to `(B, n_heads, n_tok, n_embd // n_heads)`:
# the head dimension goes in front of the last two, because matrix products act on the last two
# dimensions only and every head must attend on its own. One `reshape` alone cannot do this (the
# entries would land in the wrong heads): reshape to `(B, n_tok, n_heads, n_embd // n_heads)` first,
# then swap two dimensions.
#
# **`merge_heads(y)`.** The exact inverse: transpose `(B, n_heads, n_tok, d)` back to
# `(B, n_tok, n_heads, d)`, then reshape to `(B, n_tok, n_heads * d)`. A size of `-1` in a reshape
# lets PyTorch work that dimension out.


# %%
def split_heads_qkv(Q, K, V, n_heads):
    """Given: split_heads applied to each of Q, K and V."""
    return (split_heads(Q, n_heads), split_heads(K, n_heads), split_heads(V, n_heads))


def split_heads(x, n_heads):
    """(B, n_tok, n_embd) -> (B, n_heads, n_tok, n_embd // n_heads)."""
    # BEGIN SOLUTION reshape to (B, n_tok, n_heads, n_embd // n_heads), then swap two dimensions.
    return x.reshape(x.shape[0], x.shape[1], n_heads, -1).transpose(1, 2)
    # END SOLUTION


def merge_heads(y):
    """(B, n_heads, n_tok, d) -> (B, n_tok, n_heads * d), undoing split_heads."""
    # BEGIN SOLUTION swap the head and token dimensions back, then merge the last two dimensions.
    return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)
    # END SOLUTION


# %% [markdown]
# ### Checking against PyTorch
#
# `MHA_wrapper` runs PyTorch's `multi_head_attention_forward` with identity projections and no biases,
# so that it computes exactly what `self_attention` should. `compare_with_pytorch` feeds both the same
# random input (seed 447, shape (1, 10, 6)) and prints the largest absolute difference. Do not change
# these two functions.

# %%
TOLERANCE = 1e-5


def MHA_wrapper(query, key, value, n_heads=1, causal=False):
    """PyTorch's multi-head attention with identity in/out projections, no biases and no dropout."""
    n_tok, n_embd = query.shape[1], query.shape[2]
    future = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool, device=query.device))
    output, _ = F.multi_head_attention_forward(
        query.transpose(0, 1),
        key.transpose(0, 1),
        value.transpose(0, 1),
        embed_dim_to_check=n_embd,
        num_heads=n_heads,
        in_proj_weight=torch.eye(n_embd, device=query.device).repeat(3, 1),
        in_proj_bias=None,
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.0,
        out_proj_weight=torch.eye(n_embd, device=query.device),
        out_proj_bias=None,
        training=False,
        need_weights=False,
        attn_mask=future if causal else None,
    )
    return output.transpose(0, 1)


def compare_with_pytorch(n_heads, causal):
    """Print max |self_attention - MHA_wrapper| on a fixed random input of shape (1, 10, 6)."""
    torch.manual_seed(447)
    test_input = torch.randn(1, 10, 6)
    expected = MHA_wrapper(test_input, test_input, test_input, n_heads=n_heads, causal=causal)
    got = self_attention(test_input, test_input, test_input, n_heads=n_heads, causal=causal)
    if got.shape != expected.shape:
        print(f"shape mismatch: self_attention returned {tuple(got.shape)}, expected {tuple(expected.shape)}")
        return
    difference = (got - expected).abs().max().item()
    verdict = "match" if difference <= TOLERANCE else "DO NOT match"
    print(f"n_heads={n_heads}, causal={causal}: max abs difference {difference:.2e} (outputs {verdict})")


# %% [markdown]
# **Test 1** (one head, no mask): once Step 1 is written and wired into `self_attention`, this should
# print a difference close to 0.

# %%
compare_with_pytorch(n_heads=1, causal=False)

# %% [markdown]
# **Test 2** (one head, causal): once Step 2 is written and wired into `self_attention`; re-run
# Test 1 too, to make sure it still passes.

# %%
compare_with_pytorch(n_heads=1, causal=True)

# %% [markdown]
# **Test 3** (three heads, causal): once Step 3 is done, all three tests should print a difference
# close to 0.

# %%
compare_with_pytorch(n_heads=1, causal=False)
compare_with_pytorch(n_heads=1, causal=True)
compare_with_pytorch(n_heads=3, causal=True)


# %% [markdown]
# ## 2.2 Experimenting with your attention
#
# Your attention can now drive a language model. The cells below train a tiny GPT ("gpt-nano": 3
# layers, 3 heads, 48-dimensional embeddings, sequences cut to 100 tokens) with *your*
# `init_qkv_proj` and `self_attention`, plot its training and validation loss, and report its
# validation perplexity. Then it is your turn: change something about attention (or the transformer
# around it), train again, and write up what happens.
#
# Ideas (you may pick your own):
# - replace the dot product by another function that maps two vectors to a number;
# - share one projection between two of Q, K, V, or among all three: which variants still learn?
# - the model learns its position embeddings and trains on sequences of at most 100 tokens; try a
#   fixed (e.g. sinusoidal) position encoding and test on longer sequences;
# - mask naively, setting weights to 0 after the softmax instead of $-\infty$ before it;
# - make $W_Q$, $W_K$, $W_V$ more than linear maps (a small MLP, or one nonlinearity);
# - harder, for no extra credit: reproduce the change to attention of the Attention Free Transformer
#   or of a fast/linear attention paper.
#
# Aim to ablate, change or probe a part of attention, not to tune hyperparameters such as the number
# of heads (a hyperparameter study can still earn full marks, but is held to a much higher standard;
# faithfully reproducing a paper's change to attention is judged more leniently).
#
# **Your report** (at most five pages, for readers who know NLP but not this code) should
# 1. explain the setup: the idea behind your experiment and the background it needs;
# 2. report the results, with at least one graph or table that shows them at a glance;
# 3. interpret them: what do they say about attention in language modelling, and do they support a
#    design choice of attention?
# Training curves and validation perplexity are the natural measurements; looking at sampled text can
# also help, especially when a change breaks the model.
#
# **The code.** `tinygpt` is a small GPT written for this course (in place of a minGPT fork). Read it:
# it is short. Your copy is yours to change: an experiment beyond the attention function (say, the
# position embeddings in `tinygpt/model.py`) is made there. Nothing below is tuned; improving the
# training setup for your experiment is part of the task. On a CPU, training on the full corpus takes
# a long time; in Colab, switch the runtime to a GPU (*Runtime → Change runtime type*); the trainer
# prints which device it uses.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

try:
    import tinygpt
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "The tinygpt package was not found. Put the handout's tinygpt/ folder next to this notebook "
        "(in Colab: upload the folder in the Files panel), then run this cell again."
    ) from missing

# %% [markdown]
# ### The corpus
#
# The course trains on the corpus of Assignment 1: `1b_benchmark.train.tokens` and
# `1b_benchmark.dev.tokens`, one tokenised sentence per line. Put them in the folder `CORPUS_DIR`
# (or set the environment variable `A2_CORPUS_DIR`). If they are not there, a small synthetic
# English-like corpus in the same format is generated instead, so the notebook always runs.
# Words seen fewer than 3 times in training become `<unk>`; each sentence becomes one sequence
# `<start> ... <stop>`, padded with `<pad>` (ignored by the loss and the perplexity).
#
# Setting the environment variable `A2_QUICK=1` selects a tiny configuration that runs in seconds
# (used to test this notebook); leave it unset for real runs.

# %%
QUICK = os.environ.get("A2_QUICK") == "1"
CORPUS_DIR = Path(os.environ.get("A2_CORPUS_DIR", "data"))
TRAIN_STEPS = 40 if QUICK else 3000
EVAL_EVERY = 20 if QUICK else 200
BATCH_SIZE = 32
LEARNING_RATE = 5e-4

paths = tinygpt.corpus_paths(CORPUS_DIR)
if not (paths["train"].is_file() and paths["dev"].is_file()):
    print(f"No course corpus in {CORPUS_DIR}/: writing the synthetic one there.")
    paths = tinygpt.write_synthetic_corpus(
        CORPUS_DIR, sizes=(800, 200, 200) if QUICK else (20000, 2000, 2000)
    )
train_sentences = tinygpt.read_tokens_file(paths["train"])
dev_sentences = tinygpt.read_tokens_file(paths["dev"])
vocab = tinygpt.Vocabulary.build(train_sentences, min_count=3)
train_docs = tinygpt.encode_corpus(train_sentences, vocab)
dev_docs = tinygpt.encode_corpus(dev_sentences, vocab)
print(
    f"{len(train_docs)} training and {len(dev_docs)} validation sentences; vocabulary of {len(vocab)} tokens"
)

# %% [markdown]
# ### Your experiment: change the attention here
#
# This is the one place to plug in a different attention. The model calls
# `attn_init_fn(n_embd)` once per layer to make $W_Q, W_K, W_V$, and
# `attn_fn(Q, K, V, n_heads=n_head, causal=True)` in every forward pass (it then applies its own
# output projection). Write your variants as new functions and name them here; keep the §2.1
# functions above unchanged, since they are what is graded.

# %%
experiment_attn_init_fn = init_qkv_proj
experiment_attn_fn = self_attention

# %%
torch.manual_seed(447)
config = tinygpt.gpt_nano(
    vocab_size=len(vocab),
    attn_init_fn=experiment_attn_init_fn,
    attn_fn=experiment_attn_fn,
    pad_token=vocab.pad_id,
)
model = tinygpt.GPT(config).to(tinygpt.pick_device())
history = tinygpt.train(
    model,
    train_docs,
    dev_docs,
    steps=TRAIN_STEPS,
    batch_size=BATCH_SIZE,
    learning_rate=LEARNING_RATE,
    eval_every=EVAL_EVERY,
)

# %%
plt.figure(figsize=(7, 4))
plt.plot(history.steps, history.train_loss, label="training loss (per batch)", alpha=0.6)
plt.plot(history.eval_steps, history.val_loss, marker="o", label="validation loss")
plt.xlabel("training step")
plt.ylabel("cross-entropy loss")
plt.legend()
plt.title("gpt-nano with your attention")
plt.show()

# %%
val_perplexity = tinygpt.perplexity(model, dev_docs)
print(f"validation perplexity: {val_perplexity:.2f}")

# %% [markdown]
# A few sentences sampled from the model, to look at alongside the numbers:

# %%
start = torch.full((3, 1), vocab.ids["<start>"], dtype=torch.long, device=next(model.parameters()).device)
for sample in model.generate(start, max_new_tokens=25).tolist():
    print(" ".join(vocab.decode(sample[1:])).split("<stop>")[0])

# %% [markdown]
# You are done with the code: download this notebook as `A2S2.py` for Gradescope, and write up your
# §2.2 experiment in your PDF report.
