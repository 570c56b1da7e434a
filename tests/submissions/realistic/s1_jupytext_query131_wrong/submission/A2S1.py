# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     name: python3
# ---

# %% [markdown]
# # Assignment 2, §1: Understanding attention

# %%
# !pip install -q torch
from google.colab import drive
drive.mount('/content/drive')
# %matplotlib inline

import torch
import torch.nn.functional as F
import matplotlib.pyplot as plt

# %% [markdown]
# ## 1.1 Background
#
# ### The keys and values

# %%
torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value.round_(decimals=2)
print(key)
print(value)

def attention(q, k, v):
    return torch.softmax(q @ k.T, dim=-1) @ v

# %% [markdown]
# ## 1.2 Selection via attention
#
# ### 1.2.1

# %%
query121 = 50 * key[0]
print(attention(query121, key, value), value[0])

# %% [markdown]
# ### 1.2.2

# %%
query122 = 50 * key
print(attention(query122, key, value) - value)

# %% [markdown]
# ## 1.3 Averaging via attention
#
# ### 1.3.1

# %%
query131 = 5 * key.mean(dim=0)
print(attention(query131, key, value), value.mean(dim=0))

# %% [markdown]
# ### 1.3.2

# %%
query132 = 20 * (key[0] + key[1])
print(attention(query132, key, value), (value[0] + value[1]) / 2)

# %% [markdown]
# ## 1.4 Interactions within attention
#
# ### 1.4.1

# %%
key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
print(attention(query132, key141, value))

# %% [markdown]
# ### 1.4.2

# %%
key142 = key.clone()
key142[2] = (key[0] + key[1]) / (key[0] + key[1]).norm()
print(key142[2].norm(), attention(query132, key142, value), value[2])
