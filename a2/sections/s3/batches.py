"""The grader's own batches and probe model, shared by the trusted side and the §3 drivers.

The unit checks of ``train_one_epoch`` and ``evaluate`` feed the student's function batches made
here rather than by the student's ``collate_fn``, so that a bug in one function costs only that
function's points.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_TOKENS = 512
#: The tokenizer arguments the assignment prescribes for ``collate_fn``.
TOKENIZER_ARGUMENTS = {"padding": True, "max_length": MAX_TOKENS, "truncation": True, "return_tensors": "pt"}
PROBE_MODEL_SEED = 4471
#: Steps of the threshold run after which its driver notes the weights: the grader checks that the first
#: step was a training step on the run's first batch (reference_steps.first_step_problem).
PREFIX_STEPS = 1


@lru_cache(maxsize=4)
def load_tokenizer(model_dir: str):
    """The tokenizer stored beside a model; refuses the empty tokenizer transformers may return."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if len(tokenizer) < 100:
        raise OSError(f"the tokenizer in {model_dir} has only {len(tokenizer)} tokens: its files are missing")
    # Its encodings carry token_type_ids (zeros, which RoBERTa accepts), as those of a tokenizer loaded
    # with PreTrainedTokenizerFast in the course's transformers did: code written against either runs.
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    return tokenizer


def encode_batch(tokenizer, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """What a correct ``collate_fn`` returns for ``examples`` (dicts with "text" and "label")."""
    import torch

    text_encoding = tokenizer([example["text"] for example in examples], **TOKENIZER_ARGUMENTS)
    labels = torch.tensor([int(example["label"]) for example in examples], dtype=torch.long)
    return {"text_encoding": text_encoding, "label_encoding": labels}


#: Dropout of the probe and threshold models' hidden layers, and of their attention weights. PyTorch
#: draws attention dropout inside its fused kernels from the global generator, which no one else can
#: replay, so it is off; every other dropout draws its masks from `SeededDropout`.
HIDDEN_DROPOUT = 0.1
ATTENTION_DROPOUT = 0.0


def _seeded_dropout_class():
    import torch

    class SeededDropout(torch.nn.Module):
        """Dropout whose masks depend only on (seed, forward pass, place), never on the global RNG.

        A student's code may reseed torch (`set_seed(447 + epoch)`) or draw random numbers of its own;
        with these masks, the grader can still compute exactly what each training step of the model
        saw. The count of forward passes is kept on the model (`seeded_dropout`)."""

        def __init__(self, p: float, seed: int, place: int, counter: list[int]) -> None:
            super().__init__()
            self.p, self.seed, self.place, self.counter = p, seed, place, counter

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training or self.p == 0:
                return x
            generator = torch.Generator().manual_seed(
                self.seed * 1_000_003 + self.counter[0] * 1009 + self.place
            )
            keep = torch.rand(x.shape, generator=generator) >= self.p
            return x * keep.to(device=x.device, dtype=x.dtype) / (1 - self.p)

        def extra_repr(self) -> str:
            return f"p={self.p}, seed={self.seed}"

    return SeededDropout


def seeded_dropout(model, seed: int) -> list[int]:
    """Replace every Dropout of `model` by a SeededDropout; return the model's forward-pass counter
    (its first element: the index of the next forward pass, which a replay sets to choose masks)."""
    import torch

    counter = [0]
    kind = _seeded_dropout_class()
    places = [
        (name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.Dropout)
    ]
    for place, (name, module) in enumerate(places):
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        setattr(parent, name.rpartition(".")[2], kind(module.p, seed, place, counter))

    def count(*_: Any) -> None:
        counter[0] += 1

    model.register_forward_hook(count)
    return counter


def _load_for_training(model_dir: str):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        model_dir,
        num_labels=2,
        hidden_dropout_prob=HIDDEN_DROPOUT,
        attention_probs_dropout_prob=ATTENTION_DROPOUT,
    )


def probe_model(model_dir: str, dropout_seed: int = PROBE_MODEL_SEED):
    """A seeded copy of the model in ``model_dir`` whose head gives both classes on ordinary text, with
    seeded dropout (``seeded_dropout``; its counter is the model's ``forward_counter``).

    A freshly initialised head predicts one class for nearly every input, and then an accuracy that
    ignores the predictions could look right. Scaling the head's output layer spreads its logits.
    """
    import torch

    torch.manual_seed(PROBE_MODEL_SEED)  # a head missing from the checkpoint is initialised from it
    model = _load_for_training(model_dir)
    generator = torch.Generator().manual_seed(PROBE_MODEL_SEED)
    with torch.no_grad():
        out_proj = model.classifier.out_proj
        out_proj.weight.copy_(torch.randn(out_proj.weight.shape, generator=generator) * 2.0)
        out_proj.bias.zero_()
    model.forward_counter = seeded_dropout(model, dropout_seed)
    return model


def threshold_model(model_dir: str, seed: int):
    """The model 3.5.1 finetunes: the profile's, its head initialised after seeding torch with `seed`,
    with seeded dropout, so that the grader can replay its first step whatever the student's code does
    to the random generators."""
    import torch

    torch.manual_seed(seed)
    model = _load_for_training(model_dir)
    model.forward_counter = seeded_dropout(model, seed)
    return model


def watched(name: str) -> bool:
    """The parameters 3.3.2 compares after an epoch: the head, the first encoder layer, the
    embeddings' norm (enough to tell every step apart, small enough to send back from a GPU run)."""
    return name.startswith("classifier.") or ".layer.0." in name or "embeddings.LayerNorm" in name


def stepped(name: str) -> bool:
    """The parameters 3.3.2 follows at every step: the classification head (dropout acts on it twice,
    and every step moves it), small enough to send back after each batch from a GPU run."""
    return name.startswith("classifier.")


class StepSnapshots:
    """A dataloader as the student's code sees it, noting the `stepped` weights of `model` each time
    a batch is handed out and when a pass over it ends: ``passes[k][t]`` are the weights before batch
    t's step in the k-th pass (a progress bar or a `len(list(loader))` makes passes that train none)."""

    def __init__(self, loader: Any, model: Any) -> None:
        self.loader, self.model = loader, model
        self.passes: list[list[dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def _note(self, weights: list[dict[str, Any]]) -> None:
        weights.append({n: p.detach().cpu().clone() for n, p in self.model.named_parameters() if stepped(n)})

    def __iter__(self) -> Any:
        weights: list[dict[str, Any]] = []
        self.passes.append(weights)
        for batch in self.loader:
            self._note(weights)
            yield batch
        self._note(weights)


def probe_loader(model_dir: str, examples: list[dict[str, Any]], batch_size: int):
    """The dataloader the §3 probes give the student's functions, and 3.3.2's reference epoch uses.

    It has a generator of its own: each iterator a dataloader makes draws a seed, and without one it
    draws from torch's global generator, which dropout uses too. A progress bar that makes an extra
    iterator (``tqdm.auto`` does) would then shift every dropout mask of an honest epoch.
    """
    from functools import partial

    import torch
    from torch.utils.data import DataLoader

    collate = partial(encode_batch, load_tokenizer(model_dir))
    dataset: Any = examples  # a list serves as a map-style dataset
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, generator=torch.Generator()
    )
