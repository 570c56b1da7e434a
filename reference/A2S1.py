# %% [markdown]
# # Assignment 2, §1: Understanding attention
#
# This notebook lets you poke at the attention operation in a setting small enough to reason about
# by hand. You will hand-craft queries (and, in §1.4, one key) that make attention *select* or
# *average* value vectors.
#
# **What to hand in.** Fill in every line marked `TODO`, run the check cell under it, then download
# the notebook as a Python file named `A2S1.py` (in Colab: *File → Download → Download .py*) and upload
# it to Gradescope. Explain how you found each answer in your PDF write-up (at most three pages for
# §1): the autograder checks the numbers, the course staff read the reasoning.

# %%
import torch

# %% [markdown]
# ## 1.1 Background: dot-product attention without the extras
#
# Transformers are built from multi-head *scaled* dot-product self-attention. Here we drop the
# scaling and the multiple heads and keep the core. Attention works on three matrices whose rows are
# vectors in $\mathbb{R}^d$: queries $Q$ (rows $q_i$), keys $K$ (rows $k_j$) and values $V$ (rows $v_j$).
# Some questions ask for a single query vector $q$, others for a whole query matrix $Q$; each question
# says which.
#
# 1. Scores: every query is compared with every key by a dot product,
#    $\alpha_{i,j} = q_i \cdot k_j$, i.e. $A = QK^\top$.
# 2. Normalisation: a softmax over the last dimension turns each row of scores into weights that are
#    positive and sum to one, $A' = \mathrm{softmax}(A)$.
# 3. Output: each output row is the weighted sum of the values, $b_i = \sum_j \alpha'_{i,j} v_j$,
#    i.e. $O = A'V$.
#
# **How answers are scored.** The error of an answer is the largest absolute difference, entry by
# entry, between the attention output $\mathrm{softmax}(qK^\top)V$ and the target. Exact answers are
# rarely possible; an error of at most **0.05** earns full credit. The check cells below print this
# error exactly as the autograder measures it (the autograder uses its own copy of $K$ and $V$).
#
# **What counts as a solution.** Many answers work, and some can be found by trial and error. We ask
# you to reason from how attention works: a rationale that does not use the mechanism of attention
# earns no credit. Your answers may be tailored to this particular $K$ and $V$; a general recipe is
# welcome but not required. One answer per question is enough. You may write numbers or expressions
# in terms of `key`, `value` and their rows. Vectors are indexed from 0 ($v_0$ is the first row of $V$).

# %% [markdown]
# ### The keys and values
#
# $d = 3$ and $n = 4$: four tokens, each with a key $k_i \in \mathbb{R}^3$ and a value
# $v_i \in \mathbb{R}^3$. They are random unit vectors rounded to two decimals. Do not change this cell.

# %%
torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value.round_(decimals=2)
print("K =", key)
print("V =", value)

# %% [markdown]
# The helpers below compute unscaled attention and report the error of an answer. Do not change them.

# %%
ERROR_FOR_FULL_CREDIT = 0.05


def attention(query, keys, values):
    """Unscaled dot-product attention softmax(q K^T) V; a single query may be a vector of shape (3,)."""
    scores = torch.as_tensor(query, dtype=torch.float32).reshape(-1, keys.shape[1]) @ keys.T
    return torch.softmax(scores, dim=-1) @ values


def check(name, query, target, keys=key):
    """Print the largest absolute difference between attention(query, keys, value) and target."""
    if query is ...:
        raise NotImplementedError(f"{name} is still `...`: fill it in above, then run this cell again.")
    error = (attention(query, keys, value) - target).abs().max().item()
    verdict = "within" if error <= ERROR_FOR_FULL_CREDIT else "NOT within"
    print(f"{name}: error {error:.4f} ({verdict} the {ERROR_FOR_FULL_CREDIT} needed for full credit)")


# %% [markdown]
# ## 1.2 Selection via attention
#
# "A query that does X" means: running attention with your query and the given $K$ and $V$ produces
# an output that does X.
#
# *Hint:* think first about the weights $A' = \mathrm{softmax}(qK^\top)$ you would need, then about
# the scores that give those weights. A "large number" $S$ may help.
#
# **1.2.1** Define a query vector $q \in \mathbb{R}^3$ whose attention output is the first value
# vector $v_0$ (attention *selects* $v_0$). Explain in your write-up how you found it.

# %%
query121 = 1000 * key[0]  # SOLUTION a query vector of shape (3,) whose output is value[0]
check("query121", query121, value[0])

# %% [markdown]
# **1.2.2** Define a query matrix $Q \in \mathbb{R}^{4 \times 3}$ whose attention output is $V$
# itself: the identity mapping, where output row $i$ selects $v_i$. Explain how you found it.

# %%
query122 = 1000 * key  # SOLUTION a query matrix of shape (4, 3) whose output is value
check("query122", query122, value)

# %% [markdown]
# **1.2.3 (write-up only)** Attention can copy or select an input token when it builds an output.
# Why is that useful for language modelling? Answer in one to three sentences.

# %% [markdown]
# ## 1.3 Averaging via attention
#
# Same $K$ and $V$ as above. *Hint:* again, start from the weights you want.
#
# **1.3.1** Define a query vector $q \in \mathbb{R}^3$ whose output is the average of all four value
# vectors. Explain how you found it.

# %%
query131 = torch.zeros(3)  # SOLUTION a query vector whose output is the mean of all rows of value
check("query131", query131, value.mean(dim=0))

# %% [markdown]
# **1.3.2** Define a query vector $q \in \mathbb{R}^3$ whose output is the average of the first two
# value vectors, $(v_0 + v_1)/2$. Explain how you found it.

# %%
query132 = 20 * torch.linalg.pinv(key[:2]) @ torch.ones(2)  # SOLUTION a query that averages v_0 and v_1
check("query132", query132, value[:2].mean(dim=0))

# %% [markdown]
# **1.3.3 (write-up only)** Attention can average, and average selectively, over its inputs. Why is
# that useful for language modelling? Answer in one to three sentences.

# %% [markdown]
# ## 1.4 Interactions within attention
#
# *(Required for CSE 517; extra credit for CSE 447.)*
#
# Averaging exactly the first two values, as in 1.3.2, works for this $K$ but not for every $K$: the
# other keys matter too. Keep your `query132` and every key except the third one, $k_2$, unchanged;
# you may replace only $k_2$ (row 2 of `key`).
#
# **1.4.1** Replace $k_2$ so that attention with the unchanged `query132` outputs the average of
# the first three values, $(v_0 + v_1 + v_2)/3$. Give the whole new key matrix as `key141` (shape
# (4, 3), rows 0, 1 and 3 equal to those of `key`). Explain how you found it.

# %%
key141 = key[[0, 1, 0, 3]]  # SOLUTION the key matrix with only row 2 replaced
check("query132 with key141", query132, value[:3].mean(dim=0), keys=key141)

# %% [markdown]
# **1.4.2** Replace $k_2$ so that attention with the unchanged `query132` outputs the third value
# $v_2$, with one extra condition: the new $k_2$ must have length 1. (Attention itself imposes no
# such limit; it is part of this exercise only.) Give the whole new key matrix as `key142`. Explain
# how you found it.

# %%
key142 = torch.cat([key[:2], query132[None] / query132.norm(), key[3:]])  # SOLUTION new row 2, length 1
check("query132 with key142", query132, value[2], keys=key142)
print(f"length of the new k2: {key142[2].norm().item():.4f} (must be 1 within 0.01)")

# %% [markdown]
# **1.4.3 (write-up only)** Before your change, the output of `query132` depended only on the first
# two tokens. Why can replacing $k_2$ change it? Answer in two to four sentences.
#
# You are done with §1: download this notebook as `A2S1.py` and upload it with the other two.
