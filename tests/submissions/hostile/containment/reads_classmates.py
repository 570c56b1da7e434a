"""Hostile §1: a correct notebook that looks for its classmates while it loads.

It reads every process's command line it can see, and for each `grade` run it finds, tries to list
or read the submission folder, the results and the log named there (and the folders holding them:
the class's export and the batch's output with grades.csv). Anything readable fails 1.2.1 with it.
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
    leaked = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                arguments = [part.decode(errors="replace") for part in handle.read().split(b"\0")]
        except OSError:
            continue
        if "grade" not in arguments:
            continue
        flags = ("grade", "--results", "--log")
        named = [arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a in flags]
        for path in named + [os.path.dirname(path) for path in named]:
            try:
                if os.path.isdir(path):
                    leaked.append(f"{path}: {sorted(os.listdir(path))[:3]}")
                else:
                    with open(path, "rb"):
                        leaked.append(path)
            except OSError:
                pass
    if leaked:
        raise RuntimeError("found classmates: " + "; ".join(leaked))
    return answer


query121 = probe(query121)
