"""An embedding matrix projected to 2-D with PCA: the most frequent words as points,
the most frequent of them labelled."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .style import POSITIVE_COLOR, TEXT_COLOR, WHITE_AXIS, base_layout, note_figure, plain

FIRST_WORD_ID = 2          # id 0 is padding, id 1 the unknown word


def pca_2d(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``X`` (n, d), centred, on their first two principal components:
    ``(coords (n, 2), explained variance ratio (2,))``. A component with no variance
    (d == 1, or fewer than 3 distinct rows) gives coordinate 0 and ratio 0. Each
    component's sign makes its largest-|loading| entry positive."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"pca_2d expects an (n, d) array, got shape {X.shape}")
    n, d = X.shape
    coords, ratio = np.zeros((n, 2)), np.zeros(2)
    if n == 0 or d == 0:
        return coords, ratio
    Xc = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    total = float(np.sum(s ** 2))
    k = min(2, Vt.shape[0])
    for i in range(k):
        v = Vt[i]
        if v[np.argmax(np.abs(v))] < 0:
            v = -v
        coords[:, i] = Xc @ v
        ratio[i] = s[i] ** 2 / total if total > 0 else 0.0
    return coords, ratio


def _percent(r: float) -> str:
    p = 100.0 * r
    return f"{p:.0f}%" if p >= 10 or p == 0 else f"{p:.1f}%"


def embedding_figure(W: Any, words: Sequence[str], n_points: int = 300, n_labels: int = 40,
                     title: str = "Embeddings") -> dict[str, Any]:
    """The rows 2 .. 2 + ``n_points`` of the embedding matrix ``W`` (vocab, dim) - the most
    frequent words - projected with :func:`pca_2d`; the first ``n_labels`` carry their word."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"an embedding matrix must have shape (vocab, dim), got {W.shape}")
    words = list(words or [])
    total = max(0, W.shape[0] - FIRST_WORD_ID)
    if total < 2:
        return note_figure("The vocabulary has fewer than 2 words: there is nothing to project.", title)
    n = max(2, min(total, int(n_points)))
    ids = np.arange(FIRST_WORD_ID, FIRST_WORD_ID + n)
    rows = W[ids]
    if not np.all(np.isfinite(rows)):
        return note_figure("The embedding holds NaN or infinite values (the training diverged).", title)
    coords, ratio = pca_2d(rows)
    names = [str(words[i]) if i < len(words) else f"#{i}" for i in ids]
    n_lab = max(0, min(n, int(n_labels)))
    shown = f"{n:,} of {total:,} words (most frequent)" if n < total else f"all {total:,} words"
    heading = f"{title} · {shown}, PCA to 2-D"
    trace = {"type": "scatter", "mode": "markers+text", "name": "words",
             "x": plain(coords[:, 0]), "y": plain(coords[:, 1]),
             "text": [names[i] if i < n_lab else "" for i in range(n)], "textposition": "top center",
             "textfont": {"size": 10, "color": TEXT_COLOR},
             "customdata": [[names[i], int(ids[i])] for i in range(n)],
             "marker": {"size": [7 if i < n_lab else 5 for i in range(n)], "color": POSITIVE_COLOR,
                        "opacity": 0.7, "line": {"width": 0}},
             "hovertemplate": "<b>%{customdata[0]}</b> (id %{customdata[1]})<extra></extra>", "cliponaxis": False}
    xaxis = dict(WHITE_AXIS, title={"text": f"PC 1 ({_percent(ratio[0])} of variance)"})
    yaxis = dict(WHITE_AXIS, title={"text": f"PC 2 ({_percent(ratio[1])} of variance)"}, scaleanchor="x",
                 scaleratio=1)
    layout = base_layout(heading, 520, xaxis=xaxis, yaxis=yaxis, showlegend=False,
                         margin={"l": 60, "r": 16, "t": 44, "b": 50})
    return {"data": [trace], "layout": layout}
