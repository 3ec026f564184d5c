"""Dataset handlers by name (the keys of ``datasets:`` in datasets.yaml)."""

from __future__ import annotations

from vaerepro.data.datasets.base import DatasetHandler, LocalMatch
from vaerepro.data.datasets.cc15 import CC15
from vaerepro.data.datasets.celeba_hq import CelebAHQ
from vaerepro.data.datasets.cifar10 import CIFAR10
from vaerepro.data.datasets.euvp import EUVP
from vaerepro.data.datasets.lol import LOL
from vaerepro.data.datasets.mnist import MNIST

HANDLERS: dict[str, DatasetHandler] = {
    handler.name: handler for handler in (MNIST(), CIFAR10(), CelebAHQ(), LOL(), EUVP(), CC15())
}


def handler(name: str) -> DatasetHandler:
    if name not in HANDLERS:
        raise KeyError(f"no dataset handler '{name}'; known: {', '.join(sorted(HANDLERS))}")
    return HANDLERS[name]


__all__ = ["HANDLERS", "DatasetHandler", "LocalMatch", "handler"]
