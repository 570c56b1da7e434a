"""Hostile §1: a correct notebook that leaves everything it can behind while it loads.

Files in /tmp, /var/tmp, /dev/shm and its own temporary folder, a 3,000-deep folder chain (deeper
than a recursive cleanup can follow), System V shared memory, a semaphore set and a message queue,
a POSIX message queue, and a process in its own session that keeps forking a new copy of itself.
The grader must end with nothing of it left: files, IPC objects or processes. The IPC objects are
made by a second interpreter, whose code is a string the grader's review of the notebook never sees.
"""

import os
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

IPC = """
import ctypes, os
IPC_CREAT = 0o1000
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(0, 64 << 20, IPC_CREAT | 0o600)
libc.semget(0, 1, IPC_CREAT | 0o600)
libc.msgget(0, IPC_CREAT | 0o600)
try:
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    rt.mq_open(b"/a2-leftover", os.O_CREAT | os.O_RDWR, 0o600, None)
except OSError:
    pass
"""
HOPPER = """
import os, time
while True:
    if os.fork():
        os._exit(0)
    os.setsid()
    started = time.time()
    while time.time() - started < 0.05:
        pass
"""


def deep_chain(base, depth=3000):
    fd = os.open(base, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)


def probe(answer):
    blob = b"x" * (8 << 20)
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.environ.get("TMPDIR", "/tmp")):
        try:
            with open(os.path.join(folder, f"leftover-{os.getpid()}"), "wb") as handle:
                handle.write(blob)
        except OSError:
            pass
    for base in (os.environ["HOME"], "/tmp"):
        try:
            chain = os.path.join(base, f"chain-{os.getpid()}")
            os.mkdir(chain)
            deep_chain(chain)
        except OSError:
            pass
    quiet = subprocess.DEVNULL
    subprocess.run([sys.executable, "-c", IPC], stdout=quiet, stderr=quiet, check=False)
    subprocess.Popen([sys.executable, "-c", HOPPER], start_new_session=True, stdout=quiet, stderr=quiet)
    return answer


query121 = probe(query121)
