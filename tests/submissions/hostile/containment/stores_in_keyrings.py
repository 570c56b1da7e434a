"""Hostile §1: a correct notebook that stores its answers in every kernel keyring it can reach.

Keyrings belong to the uid, not to a namespace: a key in the user keyring (@u), the user-session
keyring, the persistent keyring or a named session keyring linked from them would outlive the run,
and a later submission graded as the same uid (a named sandbox user in `batch`) could read it back
(reads_keyrings.py). The keys are added by a second interpreter, whose code is a string the grader's
review of the notebook never sees. Nothing of it may be left: the uid must hold no key at all.
"""

import subprocess
import sys

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

STORE = """
import ctypes, platform, sys
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
ADD_KEY, REQUEST_KEY, KEYCTL = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[platform.machine()]
payload = sys.argv[1].encode()

def add(ring):
    return libc.syscall(L(ADD_KEY), b"user", b"a2-answers", payload, L(len(payload)), L(ring))

for ring in (-4, -5, -3, -2, -1):  # @u, @us, @s, @p, @t
    add(ring)
persistent = libc.syscall(L(KEYCTL), L(22), L(-1), L(-5))  # KEYCTL_GET_PERSISTENT
if persistent > 0:
    add(persistent)
named = libc.syscall(L(KEYCTL), L(1), b"a2-answers-ring")  # KEYCTL_JOIN_SESSION_KEYRING
if named > 0:
    add(named)
    libc.syscall(L(KEYCTL), L(8), L(named), L(-4))  # KEYCTL_LINK into @u
libc.syscall(L(REQUEST_KEY), b"user", b"a2-answers", None, L(-4))
"""


def stored(answer):
    payload = ",".join(f"{x:.4f}" for x in torch.cat([query121, query122.flatten()]).tolist())
    subprocess.run([sys.executable, "-c", STORE, payload], capture_output=True, check=False)
    return answer


query121 = stored(query121)
