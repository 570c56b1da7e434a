import numpy as np
import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)

# Selects v1 instead of v0 (0-indexing slip).
query121 = 100 * key[1]
# Transposed: (3, 4) instead of (4, 3).
query122 = 100 * key.T
# Division by zero.
query131 = torch.zeros(3) / torch.zeros(3)
query132 = 10 * (key[0] + key[1])
# Changes k1 as well as k2.
key141 = key.clone()
key141[1] = key[0]
key141[2] = (key[0] + key[1]) / 2
# k2 is long, not unit length.
key142 = key.clone()
key142[2] = query132
