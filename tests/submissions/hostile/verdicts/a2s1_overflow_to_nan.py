"""A2S1, hostile: query122 so large that the attention output overflows to NaN."""

import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value /= torch.norm(value, dim=1, keepdim=True)
value.round_(decimals=2)

query121 = 1000 * key[0]
query122 = [[1.7e308, 1.7e308, 1.7e308]] * 4
query131 = torch.zeros(3)
query132 = 20 * torch.linalg.pinv(key[:2]) @ torch.ones(2)
key141 = key[[0, 1, 0, 3]]
key142 = torch.cat([key[:2], query132[None] / query132.norm(), key[3:]])
