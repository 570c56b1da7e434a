# %% [markdown]
# # Assignment 2, §3: Finetuning RoBERTa for sentiment with Hugging Face
#
# Large language models are usually built in two stages. *Pretraining* teaches a model general
# knowledge of language from a huge amount of unlabelled text; *finetuning* then adapts the
# pretrained model to one task with a much smaller labelled data set. In this notebook you finetune
# RoBERTa-base, an encoder-only transformer pretrained with masked language modelling, to classify
# the sentiment of single sentences from movie reviews (SST-2), using the `transformers` and
# `datasets` libraries of Hugging Face.
#
# The work is split into five steps. In each one you fill in the cells marked `TODO:`, and the
# report asks questions marked **Q:** about what you wrote and what you observed.
#
# **What to hand in.** Download the completed notebook as `A2S3.py` (in Colab: *File → Download →
# Download .py*) for Gradescope, and answer the questions in your write-up (at most four pages).
# The grader imports your definitions without running the notebook from top to bottom, then
# finetunes a model with your `SST2Dataset`, `collate_fn` and `train_one_epoch` and measures its
# accuracy itself, so keep the names and signatures of the functions and classes as they are.
#
# **Hardware.** Finetuning RoBERTa-base takes minutes on a GPU and hours on a CPU: in Colab, choose
# *Runtime → Change runtime type → GPU* before you start.

# %% [markdown]
# ## Step 0: Preparation
#
# Colab comes with `torch` and `transformers`; if `import datasets` fails, run `pip install datasets`
# in a cell first. The model and the data set are named by two variables below: leave them at their
# defaults, `roberta-base` and `gpt3mix/sst2`. Setting the environment variable `A2_QUICK=1` selects a
# tiny configuration (one epoch on a few hundred sentences) that only checks that everything runs.

# %%
# %matplotlib inline
import os
import random
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from datasets import load_dataset
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

MODEL_NAME = os.environ.get("A2S3_MODEL", "roberta-base")
DATASET_NAME = os.environ.get("A2S3_DATASET", "gpt3mix/sst2")
QUICK = os.environ.get("A2_QUICK") == "1"

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Training will run on: {device}")


def set_seed(seed):
    """Seed every random number generator the notebook uses, so that a run can be repeated."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


set_seed(447)

# %% [markdown]
# ## Step 1: A PyTorch `Dataset` and the function that makes batches
#
# A data point of SST-2 is one sentence and its sentiment. **In the data set we use
# (`gpt3mix/sst2`), label 0 means positive and label 1 means negative** (check this yourself on a
# few sentences in Step 2: it is the opposite of what some descriptions of SST-2 say).
#
# `SST2Example` holds one data point. `SST2Dataset` wraps a list of them so that a PyTorch
# `DataLoader` can draw batches from it. You complete three small methods that every map-style
# dataset needs (its length, indexing and iteration) and `collate_fn`, which turns a list of
# examples into the tensors the model takes.
#
# `collate_fn` does the tokenisation, for a whole batch at once, with the tokenizer that the
# dataset stores in its class attribute `tokenizer`. Call the tokenizer with
# `padding=True, max_length=512, truncation=True, return_tensors="pt"`. It must return a dict with
# two entries: `"text_encoding"`, the tokenizer's output as it is (a `BatchEncoding` holding
# `input_ids` and `attention_mask`), and `"label_encoding"`, the labels of the batch, in the same
# order as the texts, as a `torch.long` tensor.
#
# **Q1.1:** What does each of the arguments `padding`, `max_length`, `truncation` and
# `return_tensors` do when the texts are encoded?
#
# **Q1.2:** What is gained by using the values given above for these arguments?


# %%
@dataclass
class SST2Example:
    """One sentence of SST-2 and its label (0 = positive, 1 = negative)."""

    text: str
    label: int

    @staticmethod
    def from_dict(data):
        return SST2Example(text=data["text"], label=int(data["label"]))


class SST2Dataset(Dataset):
    """The examples of one split; the tokenizer is shared by the whole class for `collate_fn`."""

    tokenizer = None

    def __init__(self, tokenizer, raw_data_list):
        SST2Dataset.tokenizer = tokenizer
        self.sample_list = [SST2Example.from_dict(data) for data in raw_data_list]

    def __len__(self):
        # BEGIN SOLUTION return the number of examples in the dataset.
        return len(self.sample_list)
        # END SOLUTION

    def __getitem__(self, index):
        # BEGIN SOLUTION return the SST2Example at position `index`.
        return self.sample_list[index]
        # END SOLUTION

    def __iter__(self):
        # BEGIN SOLUTION yield the examples one by one, in order.
        yield from self.sample_list
        # END SOLUTION

    @staticmethod
    def collate_fn(batched_samples):
        """Turn a list of SST2Example into {"text_encoding": BatchEncoding, "label_encoding": LongTensor}."""
        texts = [example.text for example in batched_samples]  # SOLUTION the texts of the batch, in order.
        labels = [example.label for example in batched_samples]  # SOLUTION their labels, in the same order.
        # BEGIN SOLUTION tokenise the texts with the arguments given above; make the labels a torch.long tensor.
        text_encoding = SST2Dataset.tokenizer(
            texts, padding=True, max_length=512, truncation=True, return_tensors="pt"
        )
        label_encoding = torch.tensor(labels, dtype=torch.long)
        # END SOLUTION
        return {"text_encoding": text_encoding, "label_encoding": label_encoding}


# %% [markdown]
# A quick check of Step 1 on two made-up sentences, with the real tokenizer:

# %%
tokenizer = AutoTokenizer.from_pretrained(MODEL_NAME)
toy = SST2Dataset(
    tokenizer,
    [{"text": "a warm and funny film .", "label": 0}, {"text": "dull .", "label": 1}],
)
assert len(toy) == 2 and toy[1].text == "dull ." and [ex.label for ex in toy] == [0, 1]
toy_batch = SST2Dataset.collate_fn([toy[0], toy[1]])
print({name: tuple(tensor.shape) for name, tensor in toy_batch["text_encoding"].items()})
print("labels:", toy_batch["label_encoding"])

# %% [markdown]
# ## Step 2: Loading the data
#
# `initialize_datasets` loads the three splits of the data set with `datasets.load_dataset` and
# wraps each in an `SST2Dataset`. The `DataLoader`s then draw batches from them.
#
# **Q2.1:** How many examples do the training, validation and test splits hold?
#
# **Q2.2:** What does each of the arguments `batch_size`, `shuffle`, `collate_fn` and `num_workers`
# of `DataLoader` do in the cell below?
#
# **Q2.3:** In a batch, what are the type and (for tensors) the shape of `input_ids`,
# `attention_mask` and `label_encoding`, and what does each of them represent?


# %%
def initialize_datasets(tokenizer):
    """One SST2Dataset per split of DATASET_NAME (a few hundred examples each when QUICK)."""
    # On the Hub, gpt3mix/sst2 is a loading script, which `datasets` 4 and later refuse to run; the
    # Hub keeps a Parquet copy of the same data on the branch refs/convert/parquet.
    revision = None if os.path.isdir(DATASET_NAME) else "refs/convert/parquet"
    raw = load_dataset(DATASET_NAME, revision=revision)
    split_datasets = {}
    for split in ("train", "validation", "test"):
        data = raw[split]
        if QUICK:
            data = data.select(range(min(len(data), 512 if split == "train" else 256)))
        split_datasets[split] = SST2Dataset(tokenizer, data)
    return split_datasets


sst2 = initialize_datasets(tokenizer)
for split, dataset in sst2.items():
    print(f"{split}: {len(dataset)} examples")
for example in list(sst2["train"])[:4]:
    print(example.label, example.text)

# %%
batch_size = 64
train_dataloader = DataLoader(
    sst2["train"], batch_size=batch_size, shuffle=True, collate_fn=SST2Dataset.collate_fn, num_workers=0
)
batch = next(iter(train_dataloader))
for name, value in batch["text_encoding"].items():
    print(name, type(value).__name__, value.dtype, tuple(value.shape))
print("label_encoding", type(batch["label_encoding"]).__name__, tuple(batch["label_encoding"].shape))

# %% [markdown]
# ## Step 3: Training and evaluation
#
# `compute_accuracy` returns the fraction of predictions equal to the labels. `evaluate` measures a
# model's accuracy on every batch of a `DataLoader`; `train_one_epoch` finetunes the model for one
# pass over its `DataLoader`. The model returns an object whose `logits` has shape
# `(batch size, 2)`; given `labels=`, it also computes the cross-entropy `loss`.
#
# In `train_one_epoch`, each batch takes three lines: clear the gradients left by the previous
# step, compute the gradients of the loss, and let the optimizer update the parameters.
#
# **Q3.1:** Explain what each of your three lines for the gradients and the update does.
#
# **Q3.2:** What do `model.train()` and `model.eval()` change, and why does each loop use the one it
# uses?
#
# **Q3.3:** What does `with torch.no_grad()` do in `evaluate`, and why is it there?


# %%
def compute_accuracy(predictions, labels):
    """The fraction of `predictions` equal to `labels` (two tensors of the same shape), as a float."""
    # BEGIN SOLUTION compare the two tensors element by element and return the fraction that agree.
    return (predictions == labels).float().mean().item()
    # END SOLUTION


def evaluate(model, dataloader):
    """The accuracy of `model` on every example of `dataloader`, as a float in [0, 1]."""
    # BEGIN SOLUTION put the model in evaluation mode and run it without building an autograd graph; predict the class with the largest logit.
    model.eval()
    all_predictions, all_labels = [], []
    with torch.no_grad():
        for batch in dataloader:
            text_encoding = batch["text_encoding"].to(model.device)
            logits = model(**text_encoding).logits
            all_predictions.append(logits.argmax(dim=-1).cpu())
            all_labels.append(batch["label_encoding"])
    return compute_accuracy(torch.cat(all_predictions), torch.cat(all_labels))
    # END SOLUTION


def train_one_epoch(model, dataloader, optimizer, epoch):
    """One pass over `dataloader`, one optimizer step per batch; returns the mean training loss."""
    # BEGIN SOLUTION put the model in training mode and take one step per batch: clear the gradients, compute the loss with labels=, backpropagate, step.
    model.train()
    total_loss = 0.0
    for batch in tqdm(dataloader, desc=f"epoch {epoch}", leave=False):
        text_encoding = batch["text_encoding"].to(model.device)
        labels = batch["label_encoding"].to(model.device)
        optimizer.zero_grad()
        loss = model(**text_encoding, labels=labels).loss
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / max(len(dataloader), 1)
    # END SOLUTION


# %% [markdown]
# ## Step 4: The main training loop
#
# `main` puts the pieces together: it loads the pretrained model with a fresh two-class head,
# finetunes it for `num_epochs` epochs with `AdamW`, measures training and validation accuracy after
# every epoch, and keeps the weights of the epoch with the best validation accuracy. The training
# data is shuffled; the validation data is not.
#
# **Q4.1:** With the default hyperparameters (`batch_size=64`, `learning_rate=5e-5`,
# `num_epochs=10`, `model_name="roberta-base"`), plot the training and the validation accuracy
# against the epoch, both in one plot.
#
# **Q4.2:** Describe both curves. At which epoch is the training accuracy best, and at which the
# validation accuracy? Do the curves move together? Explain what you see.
#
# **Q4.3:** Why is the training data shuffled and the validation data not?
#
# **Q4.4:** What does an optimizer do?
#
# **Q4.5:** Finetune with two other optimizers from `torch.optim` and otherwise the default
# hyperparameters. How do they differ from `AdamW`? Support your answer with your measurements.
#
# **Q4.6:** Try several combinations of `batch_size`, `learning_rate` and `num_epochs`, choosing the
# best checkpoint by validation accuracy. How did you decide which combinations to try, and why?
#
# **Q4.7:** Which `batch_size`, `learning_rate` and `num_epochs` gave your best checkpoint, and what
# are its training and validation accuracy?


# %%
def main(batch_size=64, learning_rate=5e-5, num_epochs=10, model_name="roberta-base"):
    """Finetune `model_name` on the training split; return the best model (by validation accuracy)
    and the accuracy history."""
    set_seed(447)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    splits = initialize_datasets(tokenizer)
    train_loader = DataLoader(
        splits["train"], batch_size=batch_size, shuffle=True, collate_fn=SST2Dataset.collate_fn
    )
    train_eval_loader = DataLoader(
        splits["train"], batch_size=batch_size, shuffle=False, collate_fn=SST2Dataset.collate_fn
    )
    validation_loader = DataLoader(
        splits["validation"], batch_size=batch_size, shuffle=False, collate_fn=SST2Dataset.collate_fn
    )
    model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, eps=1e-8)

    history = {"train_accuracy": [], "validation_accuracy": []}
    best_accuracy, best_state = -1.0, None
    for epoch in range(num_epochs):
        train_one_epoch(model, train_loader, optimizer, epoch)
        train_accuracy = evaluate(model, train_eval_loader)
        validation_accuracy = evaluate(model, validation_loader)
        history["train_accuracy"].append(train_accuracy)
        history["validation_accuracy"].append(validation_accuracy)
        print(
            f"epoch {epoch}: train accuracy {train_accuracy:.4f}, validation accuracy {validation_accuracy:.4f}"
        )
        if validation_accuracy > best_accuracy:
            best_accuracy = validation_accuracy
            best_state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, history


# %%
best_model, history = main(num_epochs=1 if QUICK else 10, model_name=MODEL_NAME)

epochs = range(1, len(history["train_accuracy"]) + 1)
plt.figure(figsize=(6, 4))
plt.plot(epochs, history["train_accuracy"], marker="o", label="training accuracy")
plt.plot(epochs, history["validation_accuracy"], marker="o", label="validation accuracy")
plt.xlabel("epoch")
plt.ylabel("accuracy")
plt.legend()
plt.title("Finetuning on SST-2")
plt.show()

# %% [markdown]
# ## Step 5: Testing the final model
#
# Only now, with the hyperparameters chosen on the validation split, is the test split used: once,
# to estimate how well the chosen model does on sentences it has never seen. Report the test
# accuracy of your best checkpoint beside its validation accuracy.

# %%
test_loader = DataLoader(sst2["test"], batch_size=64, shuffle=False, collate_fn=SST2Dataset.collate_fn)
test_accuracy = evaluate(best_model, test_loader)
print(f"test accuracy of the best checkpoint: {test_accuracy:.4f}")
