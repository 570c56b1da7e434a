"""Runs in the student's process: drives the §3 pieces one at a time and returns what they made.

Each probe builds what the student's function receives (a dataset, samples, a model, a dataloader,
an optimizer), calls the function, and returns its artefacts: the items, the tensors, the weights
``train_one_epoch`` left, the accuracy ``evaluate`` returned. The trusted checks compare those with
their own tokenisation, reference epoch and count. The observations recorded beside them (the model's
mode and the autograd state at each forward pass, the gradients at each step) only word a failure or
take points away; student code could forge them, so they never grant any.

A NotImplementedError from the student's code is let through (the grader reports "not implemented
yet"); any other exception is reported as text naming the call that raised it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import Any

import torch

from a2.sections.s3.batches import StepSnapshots, load_tokenizer, probe_loader, probe_model


class ProbeError(Exception):
    """A student call raised; the text names the call."""


def _attempt(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - student code may raise anything
        raise ProbeError(f"{what} raised {type(error).__name__}: {error}") from None


def _fields(item: Any) -> list | str:
    """``[text, label]`` of an example, or the name of its type when it has no such attributes."""
    if hasattr(item, "text") and hasattr(item, "label"):
        label = item.label.item() if isinstance(item.label, torch.Tensor) else item.label
        return [str(item.text), label if isinstance(label, int) else repr(label)]
    return type(item).__name__


def _reporting(probe: Callable[..., dict]) -> Callable[..., dict]:
    def run(student: ModuleType, **params: Any) -> dict:
        torch.set_num_threads(1)  # tiny inputs: more threads only spin on a shared CPU
        try:
            return probe(student, **params)
        except ProbeError as error:
            return {"error": str(error)}

    run.__doc__ = probe.__doc__
    return run


def _samples(student: ModuleType, examples: list[dict]) -> list:
    """The student's own SST2Example objects for ``examples`` (plain objects if the class is broken)."""
    make: Any = getattr(student, "SST2Example", None)
    try:
        return [make(text=e["text"], label=e["label"]) for e in examples]
    except Exception:  # noqa: BLE001 - the given class was edited; the fields are what matters
        return [SimpleNamespace(text=e["text"], label=e["label"]) for e in examples]


@_reporting
def probe_dataset(student: ModuleType, model_dir: str, examples: list[dict]) -> dict:
    """Build an SST2Dataset; report its length, every item by index, and what iterating it yields."""
    tokenizer = load_tokenizer(model_dir)
    dataset = _attempt("SST2Dataset(tokenizer, data)", lambda: student.SST2Dataset(tokenizer, examples))
    length = _attempt("len(dataset)", lambda: len(dataset))
    items = [
        _fields(_attempt(f"dataset[{i}]", partial(operator.getitem, dataset, i)))
        for i in range(len(examples))
    ]

    def first_items() -> list:
        taken = []
        for item in dataset:
            taken.append(_fields(item))
            if len(taken) > len(examples):
                break
        return taken

    iterated = _attempt("iterating over the dataset", first_items)
    return {
        "length": length if isinstance(length, int) else repr(length),
        "items": items,
        "iterated": iterated,
    }


def _tensor_or_type(value: Any) -> Any:
    return value if isinstance(value, torch.Tensor) else f"<{type(value).__name__}>"


@_reporting
def probe_collate(student: ModuleType, model_dir: str, batches: list[list[dict]]) -> dict:
    """Call SST2Dataset.collate_fn on each batch of the student's own SST2Example objects."""
    tokenizer = load_tokenizer(model_dir)
    _attempt("SST2Dataset(tokenizer, data)", lambda: student.SST2Dataset(tokenizer, batches[0]))
    dataset_class = student.SST2Dataset
    if getattr(dataset_class, "tokenizer", None) is None:
        dataset_class.tokenizer = tokenizer
    replies: list[dict[str, Any]] = []

    def collate(samples: list) -> Any:
        return dataset_class.collate_fn(samples)

    for batch in batches:
        result = _attempt("SST2Dataset.collate_fn(samples)", partial(collate, _samples(student, batch)))
        if not isinstance(result, dict):
            replies.append({"type": type(result).__name__})
            continue
        encoding = result.get("text_encoding")
        reply: dict[str, Any] = {
            "keys": sorted(str(key) for key in result),
            "label_encoding": None,
            "encoding": None,
        }
        if "label_encoding" in result:
            reply["label_encoding"] = _tensor_or_type(result["label_encoding"])
        if encoding is not None and hasattr(encoding, "keys"):
            reply["encoding"] = {str(key): _tensor_or_type(encoding[key]) for key in encoding.keys()}
            reply["encoding_type"] = type(encoding).__name__
        replies.append(reply)
    return {"batches": replies}


def _probe_device() -> str:
    """Where the probe model goes: where a notebook's usual ``device = "cuda" if ... else "cpu"`` puts
    the batches, so that code moving tensors to its own ``device`` works unchanged."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _watch_forward(model: torch.nn.Module, forwards: list[dict], losses: list[int]) -> None:
    """Record the mode, the autograd state and the use of labels= at every forward pass."""

    def before(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        forwards.append(
            {
                "training": module.training,
                "grad_enabled": torch.is_grad_enabled(),
                "labels": kwargs.get("labels") is not None,
            }
        )

    def after(module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        loss = getattr(output, "loss", None)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.register_hook(lambda grad: losses.append(1))

    model.register_forward_pre_hook(before, with_kwargs=True)
    model.register_forward_hook(after, with_kwargs=True)


@_reporting
def probe_train_one_epoch(
    student: ModuleType,
    model_dir: str,
    examples: list[dict],
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> dict:
    """Run train_one_epoch once on a model left in eval mode, with plain SGD; return the head's weights
    before every batch's step and after the epoch (a2.sections.s3.reference_steps judges each
    step), with a record of every forward pass and step."""
    model = probe_model(model_dir, dropout_seed=seed).to(_probe_device()).eval()
    loader = StepSnapshots(probe_loader(model_dir, examples, batch_size), model)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    forwards: list[dict] = []
    loss_backwards: list[int] = []
    _watch_forward(model, forwards, loss_backwards)
    watched = model.classifier.out_proj.weight
    incoming: list[torch.Tensor] = []
    watched.register_hook(lambda grad: incoming.append(grad.detach().clone()))
    steps: list[str] = []

    def before_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        grad = watched.grad
        if grad is None or not incoming:
            steps.append("no gradient")
        elif _parallel(grad, incoming[-1]):
            steps.append("fresh")  # as backpropagated, or rescaled as a whole (gradient clipping)
        elif not grad.any():
            steps.append("zeroed")
        else:
            steps.append("accumulated")

    optimizer.register_step_pre_hook(before_step)
    _attempt(
        "train_one_epoch(model, dataloader, optimizer, 0)",
        lambda: student.train_one_epoch(model, loader, optimizer, 0),
    )
    return {
        "passes": loader.passes,
        "batches": len(loader),
        "forwards": forwards,
        "steps": steps,
        "backwards": len(incoming),
        "loss_backwards": len(loss_backwards),
    }


def _parallel(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(
        torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0) > 0.999
    )


@_reporting
def probe_evaluate(student: ModuleType, model_dir: str, examples: list[dict], batch_size: int) -> dict:
    """Run evaluate on a model left in train mode; record every forward pass and any change made."""
    model = probe_model(model_dir).to(_probe_device()).train()
    loader = probe_loader(model_dir, examples, batch_size)
    forwards: list[dict] = []
    _watch_forward(model, forwards, [])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    accuracy = _attempt("evaluate(model, dataloader)", lambda: student.evaluate(model, loader))
    return {
        "accuracy": accuracy,
        "forwards": forwards,
        "unchanged": all(torch.equal(before[name], p.detach()) for name, p in model.named_parameters()),
        "gradients": any(p.grad is not None for p in model.parameters()),
    }
