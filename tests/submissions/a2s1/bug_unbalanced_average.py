# %%
import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)

# %%
query121 = 100 * key[0]
query122 = 100 * key
query131 = torch.zeros(3)
# Leans towards k0: v0 gets most of the weight instead of half.
query132 = 10 * key[0] + 8 * key[1]

# %%
key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
key142 = key.clone()
key142[2] = query132 / query132.norm()
