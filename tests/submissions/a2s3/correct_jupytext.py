# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %%
# !pip install -q datasets

# %%
import os
import torch
import numpy as np
from dataclasses import dataclass
from datasets import load_dataset
from torch.utils.data import Dataset, DataLoader
from transformers import AutoTokenizer, AutoModelForSequenceClassification

device = "cuda" if torch.cuda.is_available() else "cpu"

# %% [markdown]
# ## Step 1

# %%
@dataclass
class SST2Example:
    text: str
    label: int

    @staticmethod
    def from_dict(data):
        return SST2Example(text=data["text"], label=int(data["label"]))


class SST2Dataset(Dataset):
    tokenizer = None

    def __init__(self, tokenizer, raw_data_list):
        SST2Dataset.tokenizer = tokenizer
        self.sample_list = [SST2Example.from_dict(data) for data in raw_data_list]

    def __len__(self):
        return self.sample_list.__len__()

    def __getitem__(self, index):
        example = self.sample_list[index]
        return example

    def __iter__(self):
        return iter(self.sample_list)

    @staticmethod
    def collate_fn(batched_samples):
        batch_text = []
        batch_label = []
        for example in batched_samples:
            batch_text.append(example.text)
            batch_label.append(example.label)
        encoded = SST2Dataset.tokenizer(
            batch_text,
            padding="longest",
            max_length=512,
            truncation=True,
            return_tensors="pt",
        )
        return {
            "text_encoding": encoded,
            "label_encoding": torch.tensor(batch_label, dtype=torch.long),
        }

# %% [markdown]
# ## Step 3

# %%
def compute_accuracy(predictions, labels):
    return (predictions == labels).float().mean()


def evaluate(model, dataloader):
    model.eval()
    n_correct = 0
    n_total = 0
    with torch.no_grad():
        for batch in dataloader:
            input_ids = batch["text_encoding"]["input_ids"].to(device)
            attention_mask = batch["text_encoding"]["attention_mask"].to(device)
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
            predictions = logits.argmax(-1).cpu()
            n_correct += (predictions == batch["label_encoding"]).sum().item()
            n_total += len(predictions)
    return n_correct / n_total


def train_one_epoch(model, dataloader, optimizer, epoch):
    model.train()
    losses = []
    for batch in dataloader:
        input_ids = batch["text_encoding"]["input_ids"].to(device)
        attention_mask = batch["text_encoding"]["attention_mask"].to(device)
        labels = batch["label_encoding"].to(device)
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(out.loss.item())
    print(f"epoch {epoch}: mean loss {np.mean(losses):.4f}")
    return np.mean(losses)

# %%
for lr in [1e-5, 5e-5]:
    print("would train with", lr)
