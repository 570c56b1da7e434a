"""Hostile §1: a correct notebook whose process forks and reads its parent's memory, as another
section's process of the same uid once read a symlinked secret out of the grader's child.

The child is non-dumpable and every section has its own uid, so /proc/PID/mem stays closed. Any
success fails 1.2.1 with what it read.
"""

import os

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



def probe(answer):
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        found = b""
        try:
            with open(f"/proc/{parent}/mem", "rb"):
                found = b"opened /proc/%d/mem" % parent
        except OSError:
            pass
        os.write(write_end, found)
        os._exit(0)
    os.close(write_end)
    found = os.read(read_end, 200)
    os.waitpid(pid, 0)
    if found:
        raise RuntimeError(found.decode())
    return answer


query121 = probe(query121)
