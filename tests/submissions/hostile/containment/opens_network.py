"""Hostile §1: a correct notebook that connects to a port the grader's machine listens on.

PORT is filled in by tests/test_containment.py, which listens on 127.0.0.1:PORT. The child has no
network (its own namespace, or the seccomp fallback refusing sockets), so the connection must fail;
a success fails 1.2.1.
"""

import socket

import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value /= torch.norm(value, dim=1, keepdim=True)
value.round_(decimals=2)

query121 = 100 * key[0]
query122 = 100 * key
query131 = torch.zeros(3)
query132 = 10 * (key[0] + key[1])
key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
key142 = key.clone()
key142[2] = query132 / query132.norm()

PORT = 0  # the test writes the port here


def probe(answer):
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=3):
            pass
    except OSError:
        return answer
    raise RuntimeError(f"reached 127.0.0.1:{PORT} from the sandbox")


query121 = probe(query121)
