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
# !pip install transformers datasets

# %% [markdown]
# # Step 0: Preparation

# %%
import torch
import random
from dataclasses import dataclass
from datasets import load_dataset
from torch.utils.data import Dataset, DataLoader
from transformers import AutoTokenizer, AutoModelForSequenceClassification
from tqdm import tqdm
import matplotlib.pyplot as plt
# %matplotlib inline

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(device)

from google.colab import drive
drive.mount('/content/drive')

# %% [markdown]
# # Step 1: Dataset

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
        return len(self.sample_list)

    def __getitem__(self, index):
        return self.sample_list[index]

    def __iter__(self):
        for sample in self.sample_list:
            yield sample

    @staticmethod
    def collate_fn(batched_samples):
        texts = [sample.text for sample in batched_samples]
        labels = [sample.label for sample in batched_samples]
        text_encoding = SST2Dataset.tokenizer(texts, padding=True, max_length=512, truncation=True, return_tensors="pt")
        label_encoding = torch.LongTensor(labels)
        return {"text_encoding": text_encoding, "label_encoding": label_encoding}

# %% [markdown]
# # Step 2: Load data

# %%
def initialize_datasets(tokenizer):
    data = load_dataset("gpt3mix/sst2")
    return {split: SST2Dataset(tokenizer, data[split]) for split in ["train", "validation", "test"]}

tokenizer = AutoTokenizer.from_pretrained("roberta-base")
datasets = initialize_datasets(tokenizer)
print(len(datasets["train"]), len(datasets["validation"]), len(datasets["test"]))

# %% [markdown]
# # Step 3: Training and evaluation

# %%
def compute_accuracy(predictions, labels):
    return (predictions == labels).sum().item() / len(labels)


def evaluate(model, dataloader):
    model.eval()
    preds, golds = [], []
    for batch in tqdm(dataloader):
        inputs = batch["text_encoding"].to(device)
        outputs = model(**inputs)
        preds.append(torch.argmax(outputs.logits, dim=1).detach().cpu())
        golds.append(batch["label_encoding"])
    return compute_accuracy(torch.cat(preds), torch.cat(golds))


def train_one_epoch(model, dataloader, optimizer, epoch):
    model.train()
    for step, batch in enumerate(tqdm(dataloader, desc=f"Epoch {epoch}")):
        inputs = batch["text_encoding"].to(device)
        labels = batch["label_encoding"].to(device)
        optimizer.zero_grad()
        outputs = model(**inputs, labels=labels)
        loss = outputs.loss
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")

# %% [markdown]
# # Step 4: Main training loop

# %%
def main():
    batch_size = 64
    learning_rate = 5e-5
    num_epochs = 10
    model_name = "roberta-base"
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    datasets = initialize_datasets(tokenizer)
    train_loader = DataLoader(datasets["train"], batch_size=batch_size, shuffle=True, collate_fn=SST2Dataset.collate_fn, num_workers=2)
    val_loader = DataLoader(datasets["validation"], batch_size=batch_size, shuffle=False, collate_fn=SST2Dataset.collate_fn, num_workers=2)
    model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, eps=1e-8)
    best = 0
    for epoch in range(num_epochs):
        train_one_epoch(model, train_loader, optimizer, epoch)
        acc = evaluate(model, val_loader)
        print("val acc", acc)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "/content/drive/MyDrive/best.pt")
    return model

model = main()

# %% [markdown]
# # Step 5: Test

# %%
test_loader = DataLoader(datasets["test"], batch_size=64, collate_fn=SST2Dataset.collate_fn)
print("test acc", evaluate(model, test_loader))
