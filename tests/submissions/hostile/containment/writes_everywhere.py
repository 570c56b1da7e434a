"""Hostile §1: a correct notebook that leaves a file and a folder in every folder it may write.

It walks the host's folders from the root while it loads (bounded, so it ends in seconds) and writes
wherever the sandbox uid is allowed to: /run/lock (world-writable, and outside every namespace-less
sweep of /tmp), any other world-writable folder, and a named sandbox user's home. In a namespace it
sees only its private root. The grader must end with nothing of it left.
"""

import os
import pwd

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

SKIPPED = ("/proc", "/sys")


def home():
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:  # a dedicated uid has no account
        return "/"


def writable_folders(limit=200_000):
    found, pending, seen = [], ["/", home()], 0
    while pending and seen < limit:
        folder = pending.pop()
        if folder.startswith(SKIPPED):
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            found.append(folder)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError:
            continue
    return found


def leave(answer):
    for folder in writable_folders():
        try:
            with open(os.path.join(folder, f"a2-left-{os.getpid()}"), "w") as handle:
                handle.write("left behind")
            os.makedirs(os.path.join(folder, f"a2-folder-{os.getpid()}", "inner"), exist_ok=True)
        except OSError:
            continue
    return answer


query121 = leave(query121)
