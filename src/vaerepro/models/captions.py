"""Captions made from class labels: the text side of the DALL-E model (:mod:`.dvae`).

DALL-E (Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021, arXiv:2102.12092,
Sec. 2.2) models up to 256 BPE-encoded caption tokens followed by the image tokens. The datasets
here have class labels, not captions, so a caption is a phrasing template filled with the class
name ("a photo of a {}" → "a photo of a cat") and tokenised word by word. Some phrasings are
*held out*: training never draws them, so text→image generation can be tested on captions the
transformer has not seen (their new words have untrained embeddings; that is the test).

Tokens: ``PAD`` (index 0) then the sorted unique lowercase words of every phrasing filled with
every class name, held-out phrasings included so that they can be tokenised at test time.
Captions are right-padded with ``PAD`` to ``max_tokens``; with the transformer's position
embeddings, a PAD at position i has its own embedding, like the paper's "special padding token
separately for each of the 256 text positions" (Sec. 2.2).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

PAD = "<pad>"
PAD_INDEX = 0


def _words(text: str) -> list[str]:
    return text.lower().split()


@dataclass(frozen=True)
class CaptionSet:
    """Class names, training and held-out phrasings (templates with one ``{}``), token length."""

    class_names: tuple[str, ...]
    training_phrasings: tuple[str, ...]
    held_out_phrasings: tuple[str, ...]
    max_tokens: int

    def __post_init__(self) -> None:
        if not self.class_names or any(not _words(name) for name in self.class_names):
            raise ValueError(f"class names must be non-empty words, got {self.class_names!r}")
        if len({name.lower() for name in self.class_names}) != len(self.class_names):
            raise ValueError(f"class names must be distinct, got {self.class_names!r}")
        if not self.training_phrasings:
            raise ValueError("a caption set needs at least one training phrasing")
        for template in (*self.training_phrasings, *self.held_out_phrasings):
            if template.count("{}") != 1 or template.count("{") != 1 or template.count("}") != 1:
                raise ValueError(f"phrasing {template!r} must contain exactly one '{{}}' and no other braces")
        for phrasings in (self.training_phrasings, self.held_out_phrasings):
            if len(set(phrasings)) != len(phrasings):
                raise ValueError(f"duplicate phrasings in {phrasings!r}")
        both = set(self.training_phrasings) & set(self.held_out_phrasings)
        if both:
            raise ValueError(f"phrasings both for training and held out: {sorted(both)}")
        longest = max(
            (len(_words(template.format(name))), template.format(name))
            for template in (*self.training_phrasings, *self.held_out_phrasings)
            for name in self.class_names
        )
        if self.max_tokens < longest[0]:
            raise ValueError(
                f"max_tokens = {self.max_tokens} is too small: the caption {longest[1]!r} has {longest[0]} tokens"
            )

    # -- vocabulary ---------------------------------------------------------------------------

    @functools.cached_property
    def vocabulary(self) -> tuple[str, ...]:
        """``PAD`` then the sorted unique lowercase words of every caption (held-out ones too)."""
        words = {
            word
            for template in (*self.training_phrasings, *self.held_out_phrasings)
            for name in self.class_names
            for word in _words(template.format(name))
        }
        return (PAD, *sorted(words))

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {word: index for index, word in enumerate(self.vocabulary)}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def phrasings(self, held_out: bool = False) -> tuple[str, ...]:
        return self.held_out_phrasings if held_out else self.training_phrasings

    # -- text → tokens ------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Word-level token indices of ``text`` (lowercased, split on whitespace), unpadded."""
        indices = []
        for word in _words(text):
            if word not in self._index:
                raise ValueError(f"unknown word '{word}' in caption {text!r}; the vocabulary has {self.vocabulary[1:]}")
            indices.append(self._index[word])
        return indices

    def pad(self, indices: Sequence[int]) -> list[int]:
        """``indices`` right-padded with PAD to ``max_tokens`` (ValueError when longer)."""
        if len(indices) > self.max_tokens:
            raise ValueError(f"a caption of {len(indices)} tokens exceeds max_tokens = {self.max_tokens}")
        return [*indices, *([PAD_INDEX] * (self.max_tokens - len(indices)))]

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Any captions written in the vocabulary's words, (n, max_tokens) long, PAD-padded."""
        return torch.tensor([self.pad(self.encode(text)) for text in texts], dtype=torch.long).view(
            len(texts), self.max_tokens
        )

    def caption(self, label: int, phrasing_index: int, held_out: bool = False) -> str:
        """The caption of class ``label`` in phrasing ``phrasing_index`` of the chosen set."""
        phrasings = self.phrasings(held_out)
        if not 0 <= label < self.num_classes:
            raise ValueError(f"label {label} is outside [0, {self.num_classes})")
        if not 0 <= phrasing_index < len(phrasings):
            kind = "held-out" if held_out else "training"
            raise ValueError(f"phrasing {phrasing_index} is outside the {len(phrasings)} {kind} phrasings")
        return phrasings[phrasing_index].format(self.class_names[label])

    def token_table(self, held_out: bool = False) -> torch.Tensor:
        """Every caption of the chosen set as tokens, (phrasings, classes, max_tokens) long."""
        return self._tables[bool(held_out)]

    @functools.cached_property
    def _tables(self) -> dict[bool, torch.Tensor]:
        return {
            held_out: torch.tensor(
                [
                    [self.pad(self.encode(template.format(name))) for name in self.class_names]
                    for template in self.phrasings(held_out)
                ],
                dtype=torch.long,
            ).view(len(self.phrasings(held_out)), self.num_classes, self.max_tokens)
            for held_out in (False, True)
        }

    def tokens(self, labels: torch.Tensor, phrasing_indices: torch.Tensor, held_out: bool = False) -> torch.Tensor:
        """Caption tokens (B, max_tokens) long on ``labels``' device for labels (B,) and phrasing
        indices (B,) into the training (or held-out) phrasings."""
        phrasings = self.phrasings(held_out)
        if labels.ndim != 1 or phrasing_indices.shape != labels.shape:
            raise ValueError(
                f"labels and phrasing indices must both be (B,), got {tuple(labels.shape)} and {tuple(phrasing_indices.shape)}"
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes}), got {labels.tolist()}")
        if phrasing_indices.numel() and (
            int(phrasing_indices.min()) < 0 or int(phrasing_indices.max()) >= len(phrasings)
        ):
            kind = "held-out" if held_out else "training"
            raise ValueError(
                f"phrasing indices must lie in [0, {len(phrasings)}) ({kind} phrasings), got {phrasing_indices.tolist()}"
            )
        table = self.token_table(held_out)
        return table[phrasing_indices.long().cpu(), labels.long().cpu()].to(labels.device)


def mnist_captions() -> CaptionSet:
    """Digits "zero" .. "nine" (label order), four training and two held-out phrasings."""
    return CaptionSet(
        class_names=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        training_phrasings=("the digit {}", "a handwritten {}", "a drawing of the number {}", "a picture of a {}"),
        held_out_phrasings=("an image showing {}", "the number {}"),
        max_tokens=6,  # "a drawing of the number seven"
    )


def cifar10_captions() -> CaptionSet:
    """CIFAR-10's classes (label order), four training and two held-out phrasings."""
    return CaptionSet(
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        training_phrasings=("a photo of a {}", "a small {}", "a picture of the {}", "a blurry photo of a {}"),
        held_out_phrasings=("an image of a {}", "a low resolution photo of the {}"),
        max_tokens=7,  # "a low resolution photo of the airplane"
    )


CAPTION_PRESETS = {"mnist": mnist_captions, "cifar10": cifar10_captions}
