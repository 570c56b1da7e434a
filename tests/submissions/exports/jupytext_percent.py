# %% [markdown]
# # Assignment 2, part 1

# %%
# !pip install -q torch
import torch

# %%
torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value.round_(decimals=2)

# %%
# %%time
query121 = 1e6 * key[0]
