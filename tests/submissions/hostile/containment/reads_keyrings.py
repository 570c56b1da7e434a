"""Hostile §1: a notebook that computes nothing and reads its answers back from the kernel keyrings.

Graded after stores_in_keyrings.py as the same uid (a named sandbox user in `batch`), it passes only
if a key the earlier submission stored survived: what it reads becomes query121 and query122, and
without it they are zeros, which fail. The reading is done by a second interpreter, whose code is a
string the grader's review of the notebook never sees.
"""

import subprocess
import sys

import torch

READ = """
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
KEYCTL = {"x86_64": 250, "aarch64": 219}[platform.machine()]
buffer = ctypes.create_string_buffer(4096)


def read_from(ring):
    found = libc.syscall(L(KEYCTL), L(10), L(ring), b"user", b"a2-answers", L(0))  # KEYCTL_SEARCH
    size = libc.syscall(L(KEYCTL), L(11), L(found), buffer, L(4096)) if found > 0 else -1  # KEYCTL_READ
    return buffer.raw[:size].decode() if size > 0 else ""


persistent = libc.syscall(L(KEYCTL), L(22), L(-1), L(-5))  # KEYCTL_GET_PERSISTENT
rings = [persistent] if persistent > 0 else []
text = next((found for ring in (*rings, -4, -5, -3) if (found := read_from(ring))), "")
if not text:  # last, as joining it replaces the session keyring the others are reached through
    named = libc.syscall(L(KEYCTL), L(1), b"a2-answers-ring")  # KEYCTL_JOIN_SESSION_KEYRING
    text = read_from(named) if named > 0 else ""
print(text)
"""


def read_back():
    found = subprocess.run([sys.executable, "-c", READ], capture_output=True, text=True, check=False)
    numbers = [float(x) for x in found.stdout.strip().split(",") if x]
    return torch.tensor(numbers) if len(numbers) == 15 else torch.zeros(15)


stolen = read_back()
query121 = stolen[:3]
query122 = stolen[3:].reshape(4, 3)
