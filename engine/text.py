"""Text data: the NusaX-Sentiment (Indonesian) CSVs and a word-level vectoriser.

    from engine.text import load_nusax, TextVectorizer
    data = load_nusax()                       # {"train": (texts, labels), "valid": ..., "test": ...}
    vec = TextVectorizer(sequence_length=64).fit(data["train"][0])
    X_train = vec.transform(data["train"][0])  # (n, 64) int64 token ids, 0 = padding, 1 = unknown

Tokens are runs of letters and digits (``\\w+``) after lowercasing, so
punctuation is dropped and ``kongkow-kongkow`` gives two tokens.

The same data as an ``engine.datasets.Dataset`` of kind "text" (X, X_val and
X_test 1-D object arrays of str, y int64), downloading the three CSVs into
:func:`nusax_folder` when they are missing: ``engine.datasets.load("nusax")``.
"""
from __future__ import annotations

import csv
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

NUSAX_FOLDER = "nusax_sentiment_id"
NUSAX_SPLITS = ("train", "valid", "test")
NUSAX_LABELS = ("negative", "neutral", "positive")   # label ids 0, 1, 2

PAD, OOV = "", "[UNK]"                                # ids 0 and 1, as Keras' TextVectorization
_TOKEN = re.compile(r"\w+", re.UNICODE)


def nusax_folder(folder: Any = None) -> Path:
    """Where the NusaX CSVs are looked for: ``folder``, else ``$NUSAX_DIR``, else
    ``$BACKPROP_DATA_DIR/nusax_sentiment_id``, else ``~/.backprop_studio/data/nusax_sentiment_id``."""
    if folder is not None:
        return Path(folder).expanduser()
    if os.environ.get("NUSAX_DIR"):
        return Path(os.environ["NUSAX_DIR"]).expanduser()
    if os.environ.get("BACKPROP_DATA_DIR"):
        return Path(os.environ["BACKPROP_DATA_DIR"]).expanduser() / NUSAX_FOLDER
    return Path.home() / ".backprop_studio" / "data" / NUSAX_FOLDER


def read_nusax_csv(path: Any) -> tuple[list[str], np.ndarray]:
    """One split file (columns ``id,text,label``) -> texts and int64 labels
    (negative 0, neutral 1, positive 2). Quoted texts may hold commas."""
    path = Path(path)
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} must have the columns text and label (missing {', '.join(sorted(missing))})")
        for row in reader:
            label = (row["label"] or "").strip()
            if label not in NUSAX_LABELS:
                raise ValueError(f"{path} line {reader.line_num}: label must be one of "
                                 f"{', '.join(NUSAX_LABELS)} (got {label!r})")
            texts.append(row["text"] or "")
            labels.append(NUSAX_LABELS.index(label))
    return texts, np.array(labels, dtype=np.int64)


def load_nusax(folder: Any = None) -> dict[str, tuple[list[str], np.ndarray]]:
    """The three splits: ``{"train": (texts, labels), "valid": ..., "test": ...}``."""
    where = nusax_folder(folder)
    files = {split: where / f"{split}.csv" for split in NUSAX_SPLITS}
    absent = [p.name for p in files.values() if not p.is_file()]
    if absent:
        raise FileNotFoundError(
            f"NusaX-Sentiment files {', '.join(absent)} not found in {where}. Pass folder=..., or set "
            f"NUSAX_DIR to the folder with train.csv, valid.csv and test.csv, or BACKPROP_DATA_DIR to a "
            f"folder that contains {NUSAX_FOLDER}/; engine.datasets.load('nusax') downloads them.")
    return {split: read_nusax_csv(path) for split, path in files.items()}


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Words of ``text``: runs of letters/digits, punctuation dropped."""
    if lowercase:
        text = text.lower()
    return _TOKEN.findall(text)


def _check_texts(texts: Any, argument: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise ValueError(f"{argument} must be a list of strings (got {type(texts).__name__})")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"{argument}[{i}] must be a string (got {type(t).__name__})")
    return texts


class TextVectorizer:
    """Words -> integer ids, padded/truncated at the end to ``sequence_length``.

    ``fit`` builds the vocabulary from the training texts only: id 0 is padding,
    id 1 the out-of-vocabulary token, then words by decreasing count (ties in
    alphabetical order), keeping at most ``max_tokens`` ids in all (padding and
    OOV included, as Keras' ``TextVectorization``).
    """

    def __init__(self, max_tokens: Optional[int] = None, sequence_length: int = 64, lowercase: bool = True):
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer))
                                       or max_tokens < 3):
            raise ValueError(f"max_tokens must be None or an integer of at least 3 (padding, unknown and "
                             f"one word), got {max_tokens!r}")
        if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)) or sequence_length < 1:
            raise ValueError(f"sequence_length must be a positive integer (got {sequence_length!r})")
        if not isinstance(lowercase, bool):
            raise ValueError(f"lowercase must be True or False (got {lowercase!r})")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.sequence_length = int(sequence_length)
        self.lowercase = lowercase
        self.vocabulary: list[str] = []
        self._index: dict[str, int] = {}

    @property
    def vocab_size(self) -> int:
        """Number of ids (padding and unknown included): the Embedding's ``input_dim``."""
        self._check_fitted()
        return len(self.vocabulary)

    def fit(self, texts: Sequence[str]) -> "TextVectorizer":
        counts = Counter(tok for t in _check_texts(texts) for tok in tokenize(t, self.lowercase))
        words = sorted(counts, key=lambda w: (-counts[w], w))
        if self.max_tokens is not None:
            words = words[:self.max_tokens - 2]
        self._set_vocabulary([PAD, OOV] + words)
        return self

    def _set_vocabulary(self, vocabulary: list[str]) -> None:
        self.vocabulary = list(vocabulary)
        self._index = {w: i for i, w in enumerate(self.vocabulary)}

    def _check_fitted(self) -> None:
        if not self.vocabulary:
            raise ValueError("the TextVectorizer has no vocabulary yet: call fit(texts) first")

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, sequence_length)`` int64 ids; unknown words -> 1, padding -> 0 at the end."""
        self._check_fitted()
        texts = _check_texts(texts)
        out = np.zeros((len(texts), self.sequence_length), dtype=np.int64)
        for r, text in enumerate(texts):
            ids = [self._index.get(tok, 1) for tok in tokenize(text, self.lowercase)[:self.sequence_length]]
            out[r, :len(ids)] = ids
        return out

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)

    def decode(self, ids: Sequence[int]) -> str:
        """The words of one row of ids, padding dropped (unknown words as [UNK])."""
        self._check_fitted()
        return " ".join(self.vocabulary[int(i)] for i in ids if int(i) != 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for saving."""
        return {"max_tokens": self.max_tokens, "sequence_length": self.sequence_length,
                "lowercase": self.lowercase, "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TextVectorizer":
        if not isinstance(data, dict) or "vocabulary" not in data:
            raise ValueError("data must be a dict from TextVectorizer.to_dict (with a vocabulary)")
        vec = cls(data.get("max_tokens"), data.get("sequence_length", 64), data.get("lowercase", True))
        vocab = data["vocabulary"]
        if (not isinstance(vocab, list) or len(vocab) < 2 or vocab[:2] != [PAD, OOV]
                or not all(isinstance(w, str) for w in vocab) or len(set(vocab)) != len(vocab)):
            raise ValueError("vocabulary must be a list of distinct strings starting with '' (padding) "
                             "and '[UNK]' (unknown)")
        vec._set_vocabulary(vocab)
        return vec
