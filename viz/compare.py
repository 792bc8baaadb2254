"""Inside recorded runs: their weights and gradients side by side, layer by layer.

A run record (see :mod:`viz.runs`) may carry the histograms of its weights and
gradients, recorded at the end of every epoch (or of some of them: long runs are
thinned)::

    run["inside"] = {"bins": 30,
                     "frames": [{"epoch": 1, "params": [...], "grads": [...]},   # epochs ascending
                                {"epoch": 2, ...}, ...]}

where ``params`` and ``grads`` hold one :func:`viz.distributions.histogram_data`
entry per layer (``edges = counts = None`` and a ``note`` for a layer without
weights, such as Flatten or Dropout).

* :func:`common_epochs`: the epochs every run has a frame for;
* :func:`frame_at`: a run's frame at an epoch, or the last one before it;
* :func:`inside_histograms`: a grid of small histograms, one row per layer with
  weights and one column per run (at most :data:`MAX_INSIDE_RUNS`), every cell of
  a row on the same x range, so the same layer at the same epoch compares at a glance.

Figures are plain ``{"data", "layout"}`` dicts ready for JSON (floats rounded to five
significant digits). Run ``k`` of a selection gets colour ``k`` of
:func:`viz.runs.run_colors` and column ``k``, also when it has nothing to draw.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .distributions import KINDS
from .runs import _escape, _named, run_colors, run_label
from .style import MUTED_COLOR, WHITE_AXIS, base_layout, count_text, muted, note_figure, plain

MAX_INSIDE_RUNS = 4
ROW_PX = 170                # pixels per layer row: its heading, the plots and their x ticks
ROW_HEAD_PX = 24            # the row's heading (the layer's title), above its plots
ROW_TICKS_PX = 28           # the x tick labels under the plots
COLUMN_GAP = 0.05           # between two columns, as a share of the plot width
X_PAD = 0.03                # the shared x range reaches this share of its span past the outermost edges
MARGIN = {"l": 64, "r": 16, "t": 88, "b": 56}
NOTE_HEIGHT = 220
HEADING = {"params": "Weights", "grads": "Gradients"}
X_TITLES = {"params": "weight value", "grads": "dL/dw"}
SUBTITLES = {"params": "weight matrices only, biases excluded",
             "grads": "gradients of the weight matrices after each epoch's last batch"}


# -- frames ------------------------------------------------------------------------------

def _epoch(frame: Any) -> Optional[int]:
    """A frame's epoch as an int, or None when it has none that is a whole number."""
    if not isinstance(frame, Mapping):
        return None
    try:
        epoch = frame.get("epoch")
        return None if isinstance(epoch, bool) or epoch is None else int(epoch)
    except (TypeError, ValueError):
        return None


def _frames(run: Mapping[str, Any]) -> list[dict]:
    """The run's frames with a usable epoch, epochs ascending ([] without ``inside``)."""
    inside = run.get("inside") if isinstance(run, Mapping) else None
    frames = inside.get("frames") if isinstance(inside, Mapping) else None
    if not isinstance(frames, (list, tuple)):
        return []
    kept = [f for f in frames if _epoch(f) is not None]
    return sorted(kept, key=_epoch)


def common_epochs(runs: Sequence[Mapping[str, Any]]) -> list[int]:
    """The epochs every one of ``runs`` has a frame for, ascending ([] for no runs,
    or when one of them has no frames)."""
    runs = list(runs or ())
    if not runs:
        return []
    common: Optional[set] = None
    for run in runs:
        epochs = {_epoch(f) for f in _frames(run)}
        common = epochs if common is None else common & epochs
        if not common:
            return []
    return sorted(common)


def frame_at(run: Mapping[str, Any], epoch: int) -> Optional[dict]:
    """The run's frame at ``epoch``, or else its last frame before it (frames may be
    thinned); None when the run has no frame at or before ``epoch``."""
    found = None
    for frame in _frames(run):
        if _epoch(frame) > int(epoch):
            break
        found = frame
    return found


def _weighted(frame: Optional[Mapping[str, Any]], kind: str) -> list[dict]:
    """The frame's entries of layers with weights (those with counts), in layer order."""
    if frame is None:
        return []
    entries = frame.get(kind) or []
    return [e for e in entries if isinstance(e, Mapping) and e.get("counts") is not None
            and e.get("edges") is not None and len(e["edges"]) == len(e["counts"]) + 1]


# -- the grid -----------------------------------------------------------------------------

def _suffix(row: int, col: int, cols: int) -> str:
    """The axis suffix of a cell: "" for the first, then "2", "3", ... row by row."""
    index = row * cols + col + 1
    return "" if index == 1 else str(index)


def _column_domains(cols: int) -> list[tuple[float, float]]:
    width = (1.0 - COLUMN_GAP * (cols - 1)) / cols
    return [(c * (width + COLUMN_GAP), c * (width + COLUMN_GAP) + width) for c in range(cols)]


def _row_domains(rows: int) -> list[tuple[float, float]]:
    """Each row's plot band in paper fractions, top row first: ROW_PX pixels per row,
    the heading above the plots and the x ticks below them."""
    total = rows * ROW_PX
    out = []
    for r in range(rows):
        top = r * ROW_PX + ROW_HEAD_PX
        bottom = (r + 1) * ROW_PX - ROW_TICKS_PX
        out.append((1.0 - bottom / total, 1.0 - top / total))
    return out


def _x_range(entries: Sequence[Mapping[str, Any]]) -> Optional[list]:
    """One x range for a row: past the outermost edge of every run's histogram."""
    if not entries:
        return None
    lo = min(float(e["edges"][0]) for e in entries)
    hi = max(float(e["edges"][-1]) for e in entries)
    pad = (hi - lo) * X_PAD or abs(lo) * X_PAD or 1.0
    return plain([lo - pad, hi + pad], digits=8)


def _bar(entry: Mapping[str, Any], run: Mapping[str, Any], color: str, suffix: str, meta: dict) -> dict:
    edges = np.asarray(entry["edges"], dtype=np.float64)
    what = "weights" if entry.get("kind", "params") == "params" else "gradients"
    head = f"#{_escape(run.get('id'))} · epoch {meta['epoch']} · {_escape(entry.get('title', ''))}"
    return {
        "type": "bar", "x": plain((edges[:-1] + edges[1:]) / 2), "y": [int(c) for c in entry["counts"]],
        "width": plain(np.diff(edges)), "name": _escape(run_label(run)), "showlegend": False,
        "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
        "marker": {"color": color, "line": {"width": 0}},
        "customdata": plain(np.stack([edges[:-1], edges[1:]], axis=1)),
        "hovertemplate": f"{head}<br>[%{{customdata[0]:.4g}}, %{{customdata[1]:.4g}}): "
                         f"%{{y:,}} {what}<extra></extra>",
        "uid": f"run-{run.get('id')}-row-{meta['row']}", "meta": meta,
    }


def _cell_note(text: str, x: tuple[float, float], y: tuple[float, float]) -> dict:
    return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": (x[0] + x[1]) / 2,
            "y": (y[0] + y[1]) / 2, "xanchor": "center", "yanchor": "middle",
            "font": {"size": 11, "color": MUTED_COLOR}}


def inside_histograms(runs: Sequence[Mapping[str, Any]], epoch: Optional[int] = None,
                      kind: str = "params") -> dict[str, Any]:
    """Histograms of 2 to 4 runs' weights (``kind="params"``) or gradients
    (``"grads"``) at one epoch: one row per layer with weights (matched by position
    among the layers with weights, titled as in the first run that has it), one
    column per run in its colour, every cell of a row on the same x range.

    ``epoch=None`` takes the latest epoch all the runs have a frame for (else each
    run's latest frame); a run's frame is the one at ``epoch`` or the last before it
    (its column heading then says which). Runs beyond :data:`MAX_INSIDE_RUNS`, runs
    without recorded histograms and runs without a frame by ``epoch`` are named in the
    subtitle, their cells left empty. Fewer than two runs, or no frames at all, give
    a note."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    what = KINDS[kind]
    runs = list(runs or ())
    if len(runs) < 2:
        return note_figure(f"Select 2 to {MAX_INSIDE_RUNS} runs to compare their {what} layer by layer",
                           f"{HEADING[kind]} per layer", NOTE_HEIGHT)
    total = len(runs)
    shown = runs[:MAX_INSIDE_RUNS]
    colors = run_colors(len(shown))
    no_inside = [run.get("id") for run in shown if not _frames(run)]
    recorded = [run for run in shown if _frames(run)]
    meta: dict[str, Any] = {"run_ids": [run.get("id") for run in shown], "kind": kind, "total": total,
                            "shown": len(shown), "no_inside": no_inside, "no_frame": []}
    if not recorded:
        text = _named(no_inside, "has", "have") + " no recorded histograms of their weights and gradients"
        figure = note_figure(text, f"{HEADING[kind]} per layer", NOTE_HEIGHT)
        figure["layout"]["meta"] = {**meta, "epoch": None, "epochs": [None] * len(shown), "layers": []}
        return figure

    # The epoch: asked for, else the latest all recorded runs share, else each run's latest.
    if epoch is None:
        common = common_epochs(recorded)
        epoch = common[-1] if common else None
    else:
        epoch = int(epoch)
    frames = [(frame_at(run, epoch) if epoch is not None else _frames(run)[-1]) if _frames(run) else None
              for run in shown]
    no_frame = [run.get("id") for run, frame in zip(shown, frames) if frame is None and _frames(run)]
    meta.update(epoch=epoch, no_frame=no_frame, epochs=[_epoch(f) if f is not None else None for f in frames])
    at = f"at epoch {epoch}" if epoch is not None else "at each run's latest epoch"
    heading = f"{HEADING[kind]} per layer {at}"
    if all(frame is None for frame in frames):
        figure = note_figure(f"None of the {len(shown)} runs has histograms at or before epoch {epoch}",
                             heading, NOTE_HEIGHT)
        figure["layout"]["meta"] = {**meta, "layers": []}
        return figure

    cells = [_weighted(frame, kind) for frame in frames]       # cells[col][row]
    rows = max(len(c) for c in cells)
    if rows == 0:
        figure = note_figure(f"These runs have no layer with weights, so no {what} to draw", heading,
                             NOTE_HEIGHT)
        figure["layout"]["meta"] = {**meta, "layers": []}
        return figure
    layers = [next(c[r]["title"] for c in cells if len(c) > r) for r in range(rows)]
    meta["layers"] = layers

    cols = len(shown)
    x_domains, y_domains = _column_domains(cols), _row_domains(rows)
    data: list[dict] = []
    annotations: list[dict] = []
    axes: dict[str, Any] = {}
    for r in range(rows):
        row_entries = [c[r] for c in cells if len(c) > r]
        x_range = _x_range(row_entries)
        first = _suffix(r, 0, cols)
        annotations.append({"text": _escape(layers[r]), "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": 0.0, "y": y_domains[r][1], "xanchor": "left", "yanchor": "bottom",
                            "yshift": 2, "font": {"size": 12}})
        for c, run in enumerate(shown):
            s = _suffix(r, c, cols)
            axes[f"xaxis{s}"] = {**WHITE_AXIS, "anchor": f"y{s}", "domain": plain(x_domains[c]),
                                 "range": x_range, "nticks": 5, "tickfont": {"size": 10},
                                 **({"matches": f"x{first}"} if c else {}),
                                 **({"title": {"text": X_TITLES[kind], "standoff": 4}} if r == rows - 1 else {})}
            axes[f"yaxis{s}"] = {**WHITE_AXIS, "anchor": f"x{s}", "domain": plain(y_domains[r]),
                                 "rangemode": "tozero", "nticks": 4, "tickfont": {"size": 10},
                                 **({"title": {"text": "count", "standoff": 6}} if c == 0 else {})}
            if len(cells[c]) > r:
                entry = cells[c][r]
                data.append(_bar(entry, run, colors[c], s,
                                 {"run_id": run.get("id"), "row": r, "layer": entry.get("layer"),
                                  "epoch": meta["epochs"][c], "color_index": c}))
                continue
            axes[f"yaxis{s}"]["visible"] = False
            if run.get("id") in no_inside:
                text = "not recorded"
            elif frames[c] is None:
                text = f"nothing by epoch {epoch}"
            else:
                text = "no such layer"
            annotations.append(_cell_note(text, x_domains[c], y_domains[r]))

    # Column headings: the run in its colour (and the epoch its frame is from, when it is not the figure's).
    for c, run in enumerate(shown):
        text = f"<b>{_escape(run_label(run))}</b>"
        if meta["epochs"][c] is not None and meta["epochs"][c] != epoch:
            text += " " + muted(f"epoch {meta['epochs'][c]}")
        annotations.append({"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": sum(x_domains[c]) / 2, "y": 1.0, "xanchor": "center", "yanchor": "bottom",
                            "yshift": 4, "font": {"size": 12, "color": colors[c]}})

    notes = [SUBTITLES[kind], "x axis shared per layer"]
    if total > len(shown):
        notes.append(f"{count_text(len(shown), total, 'run')}: the first {len(shown)} are drawn")
    if no_inside:
        notes.append(_named(no_inside, "has no recorded histograms", "have no recorded histograms"))
    if no_frame:
        notes.append(_named(no_frame, f"has none by epoch {epoch}", f"have none by epoch {epoch}"))
    nonfinite = [run.get("id") for run, c in zip(shown, cells) if any(e.get("nonfinite") for e in c)]
    if nonfinite:
        notes.append(_named(nonfinite, "has values that are not finite (left out)",
                            "have values that are not finite (left out)"))
    height = rows * ROW_PX + MARGIN["t"] + MARGIN["b"]
    layout = base_layout(f"{heading}<br>{muted(' · '.join(notes))}", height, margin=dict(MARGIN),
                         annotations=annotations, bargap=0, showlegend=False, hoverlabel={"align": "left"},
                         uirevision=f"inside:{kind}:{meta['run_ids']}", meta=meta, **axes)
    layout["title"].update(y=1, yref="container", yanchor="top", pad={"t": 12})
    return {"data": data, "layout": layout}
