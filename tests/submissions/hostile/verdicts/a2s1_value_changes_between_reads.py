"""A2S1, hostile: query132 is a list whose contents change after its first read, so 1.4.2 would see another query than 1.3.2."""

import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value /= torch.norm(value, dim=1, keepdim=True)
value.round_(decimals=2)

query121 = 1000 * key[0]
query122 = 1000 * key
query131 = torch.zeros(3)


class _Flip(list):
    reads = 0

    def __iter__(self):
        _Flip.reads += 1
        return iter(self.first if _Flip.reads == 1 else [0.0, 0.0, 1000.0])


_averaging = (20 * torch.linalg.pinv(key[:2]) @ torch.ones(2)).tolist()
query132 = _Flip(_averaging)
query132.first = _averaging
key141 = key[[0, 1, 0, 3]]
key142 = torch.cat([key[:2], torch.tensor([[0.0, 0.0, 1.0]]), key[3:]])
