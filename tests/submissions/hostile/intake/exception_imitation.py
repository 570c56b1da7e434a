# -*- coding: utf-8 -*-
"""A2S1, hostile: one answer's definition raises an exception whose message holds a fake log line, a
clipboard write (OSC 52) and a screen clear; the message reaches the log, results.json and the
terminal. Only that answer's test may fail."""

import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value /= torch.norm(value, dim=1, keepdim=True)
value.round_(decimals=2)


def average():
    raise ValueError(
        "not yet\n2026-01-01 00:00:00,000 INFO section 1: all tests passed\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J"
    )


query121 = 100 * key[0]
query122 = 100 * key
query131 = average()
query132 = 10 * (key[0] + key[1])
key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
key142 = key.clone()
key142[2] = query132 / query132.norm()
