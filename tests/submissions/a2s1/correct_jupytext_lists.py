# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A2S1 — query crafting, answers typed in by hand

# %%
# !pip install torch
import torch

# %%
query121 = [47.0, 65.0, 60.0]
query122 = [[47.0, 65.0, 60.0], [64.0, 50.0, -59.0], [-3.0, -48.0, -88.0], [43.0, -83.0, 35.0]]
query131 = torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64)
query132 = torch.tensor([[11.1, 11.5, 0.1]], dtype=torch.float64)

# %%
key141 = [[0.47, 0.65, 0.60], [0.64, 0.50, -0.59], [0.555, 0.575, 0.005], [0.43, -0.83, 0.35]]
key142 = torch.tensor(key141)
key142[2] = query132[0] / query132[0].norm()
