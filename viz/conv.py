"""Figures for convolutional networks: a Conv2D layer's kernels and their gradients,
one sample's feature maps through the conv and pooling layers, and the sample itself.

Every mosaic is one heatmap trace: its tiles sit in a grid, separated by one cell
of None, which shows the plot background (``GAP_COLOR``) as a thin grid line.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .style import (COLORBAR, GAP_COLOR, GRAY_SCALE, SIGNED_SCALE, UNIT_SCALE, base_layout, count_text, fmt, muted,
                    note_figure, plain)

TILES_PER_ROW = 8          # feature-map tiles in one mosaic row
MAPS_WIDTH = 0.9           # the widest a feature-map mosaic gets (a share of the plot width)
SUBTITLE_PX = 24           # room above each panel for its subtitle
NOMINAL_WIDTH_PX = 860     # the width the panels are laid out for (they shrink to fit narrower ones)


# ---------------------------------------------------------------- helpers

def _grid(blocks: np.ndarray) -> np.ndarray:
    """Blocks (R, C, h, w) -> one (R*(h+1)-1, C*(w+1)-1) array, the blocks separated by NaN."""
    R, C, h, w = blocks.shape
    padded = np.full((R, C, h + 1, w + 1), np.nan)
    padded[:, :, :h, :w] = blocks
    return padded.transpose(0, 2, 1, 3).reshape(R * (h + 1), C * (w + 1))[:-1, :-1]


def _symmetric_max(values: np.ndarray) -> float:
    """The largest finite |value| (1 when there is none, or it is 0)."""
    finite = np.abs(values[np.isfinite(values)])
    m = float(finite.max()) if finite.size else 0.0
    return m if m > 0 else 1.0


def _mosaic_axes(x_domain: Sequence[float], y_domain: Sequence[float], x_name: str, y_name: str,
                 category: bool = False) -> tuple[dict, dict]:
    """A tick-less x/y pair with square cells, row 0 on top, shrunk to the top left of its domain."""
    common = {"showticklabels": False, "showgrid": False, "zeroline": False, "showline": False, "ticks": "",
              "constrain": "domain"}
    if category:
        common["type"] = "category"
    x = dict(common, domain=[round(x_domain[0], 4), round(x_domain[1], 4)], anchor=y_name, constraintoward="left")
    y = dict(common, domain=[round(y_domain[0], 4), round(y_domain[1], 4)], anchor=x_name, autorange="reversed",
             scaleanchor=x_name, scaleratio=1, constraintoward="top")
    return x, y


def _subtitle(text: str, x: float, y: float) -> dict[str, Any]:
    return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": round(x, 4), "y": round(y, 4),
            "xanchor": "left", "yanchor": "bottom", "font": {"size": 12}}


def _colorbar(x: float, y_domain: Sequence[float]) -> dict[str, Any]:
    return dict(COLORBAR, x=round(x, 4), xanchor="left", y=round((y_domain[0] + y_domain[1]) / 2, 4),
                yanchor="middle", len=round(max(y_domain[1] - y_domain[0], 0.05), 4), lenmode="fraction")


def _ints(values: np.ndarray) -> list:
    """Whole numbers as nested lists of ints, NaN as None."""
    cells = np.where(np.isfinite(values), values, 0).astype(np.int64).astype(object)
    cells[~np.isfinite(values)] = None
    return cells.tolist()


def _as_image(image: Any) -> np.ndarray:
    """One sample as (h, w, c) float64: a 2-D array is one grey channel, a leading batch axis of 1 is dropped."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"an image must have shape (height, width, channels), got {np.shape(image)}")
    return a


def _rgb_255(a: np.ndarray) -> np.ndarray:
    """Three channels as integers 0..255: values in [0, 1] are scaled by 255, values in
    [0, 255] kept, anything else stretched from its minimum to its maximum."""
    a = np.where(np.isfinite(a), a, 0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1:
        a = a * 255.0
    elif not (lo >= 0 and hi <= 255):
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
    return np.clip(np.round(a), 0, 255).astype(np.int64)


def _image_trace(image: np.ndarray, xaxis: str, yaxis: str) -> tuple[dict[str, Any], str]:
    """The sample as a trace (RGB: an ``image`` trace; anything else: a grey heatmap of
    channel 0) and a short description of it."""
    h, w, c = image.shape
    if c in (3, 4):
        trace = {"type": "image", "name": "input", "z": _rgb_255(image[:, :, :3]).tolist(), "colormodel": "rgb",
                 "xaxis": xaxis, "yaxis": yaxis,
                 "hovertemplate": "row %{y}, column %{x}<br>RGB %{z}<extra></extra>"}
        return trace, f"{h}×{w} RGB"
    grey = image[:, :, 0]
    finite = grey[np.isfinite(grey)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    trace = {"type": "heatmap", "name": "input", "z": plain(grey), "colorscale": GRAY_SCALE, "zmin": lo, "zmax": hi,
             "showscale": False, "hoverongaps": False, "xaxis": xaxis, "yaxis": yaxis,
             "hovertemplate": "row %{y}, column %{x}<br>value %{z:.4g}<extra></extra>"}
    note = f"{h}×{w}" if c == 1 else f"{h}×{w}, channel 1 of {c}"
    return trace, note


# ---------------------------------------------------------------- kernels

def _kernel_mosaic(K: np.ndarray) -> np.ndarray:
    """(kh, kw, channels, filters) -> one column of tiles per filter, one row per input
    channel (a wide picture: a layer has more filters than a panel has rows)."""
    return _grid(K.transpose(2, 3, 0, 1))


def _mosaic_labels(n_filters: int, n_channels: int, kh: int, kw: int) -> tuple[list[str], list[str]]:
    """Category labels of the mosaic's columns and rows: each names its filter and kernel
    column (channel and kernel row), so the hover reads them; gap cells get labels of their own."""
    xs: list[str] = []
    for f in range(n_filters):
        xs += [f"filter {f}, column {q}" for q in range(kw)]
        if f < n_filters - 1:
            xs.append(f"gap after filter {f}")
    ys: list[str] = []
    for c in range(n_channels):
        ys += [f"channel {c}, row {p}" for p in range(kh)]
        if c < n_channels - 1:
            ys.append(f"gap after channel {c}")
    return xs, ys


def kernels_figure(W: Any, dW: Any = None, title: str = "Kernels", max_filters: int = 16,
                   max_channels: int = 8) -> dict[str, Any]:
    """A Conv2D kernel ``W`` (kh, kw, in_channels, filters) beside its gradient ``dW``
    (same shape, or None before the first batch): one column of kh×kw tiles per filter,
    one row per input channel, each side on its own colour scale symmetric about 0.

    A Conv1D kernel (k, in_channels, filters) is drawn as 1×k tiles."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim == 3:
        W = W[None]
    if W.ndim != 4 or 0 in W.shape:
        raise ValueError(f"a kernel must have shape (kh, kw, in_channels, filters), got {W.shape}")
    kh, kw, C, F = W.shape
    grad = None
    if dW is not None:
        grad = np.asarray(dW, dtype=np.float64)
        if grad.ndim == 3:
            grad = grad[None]
        if grad.shape != W.shape:
            raise ValueError(f"the gradient has shape {grad.shape}, the kernel {W.shape}")
    nf, nc = max(1, min(F, int(max_filters))), max(1, min(C, int(max_channels)))
    shown_w = W[:, :, :nc, :nf]
    shown_g = grad[:, :, :nc, :nf] if grad is not None else None
    trained = shown_g is not None and bool(np.any(np.isfinite(shown_g) & (shown_g != 0)))

    heading = f"{title} · {count_text(nf, F, 'filter')} × {count_text(nc, C, 'input channel')} · {kh}×{kw}"
    rows_cells, cols_cells = nc * (kh + 1) - 1, nf * (kw + 1) - 1
    height = int(np.clip(100 + 9 * rows_cells, 180, 640))
    margin = {"l": 12, "r": 12, "t": 44, "b": 12}
    plot_h = height - margin["t"] - margin["b"]
    top = 1.0 - SUBTITLE_PX / plot_h
    # Each mosaic is as wide as its square cells make it at the nominal width (at most 0.4 of
    # it); its colour bar follows it, then the gradient side.
    plot_w = NOMINAL_WIDTH_PX - margin["l"] - margin["r"]
    cell_px = min(plot_h * top / rows_cells, 0.4 * plot_w / cols_cells)
    width = max(cell_px * cols_cells / plot_w, 0.05)
    colorbar_w = 64 / plot_w
    xs, ys = _mosaic_labels(nf, nc, kh, kw)

    data, annotations, axes = [], [], {}
    start = 0.0
    sides = [("weights", "x", "y", shown_w, "Weights", True),
             ("gradients", "x2", "y2", shown_g if trained else np.zeros_like(shown_w),
              "Gradients (latest batch)" if trained else "Gradients · " + muted("no batch trained yet", 12), trained)]
    for name, xa, ya, values, label, scaled in sides:
        x_domain = (start, start + width)
        start = x_domain[1] + colorbar_w + 0.04
        m = _symmetric_max(values) if scaled else 1.0
        trace = {"type": "heatmap", "name": name, "z": plain(_kernel_mosaic(values)), "x": xs, "y": ys,
                 "xaxis": xa, "yaxis": ya, "colorscale": SIGNED_SCALE, "zmin": -m, "zmax": m, "zmid": 0,
                 "hoverongaps": False,
                 "hovertemplate": f"%{{y}}<br>%{{x}}<br>value %{{z:.4g}}<extra>{name}</extra>"}
        if scaled:
            trace["colorbar"] = _colorbar(x_domain[1] + 0.01, (0.0, top))
        else:
            trace["showscale"] = False
        data.append(trace)
        x_axis, y_axis = _mosaic_axes(x_domain, (0.0, top), xa, ya, category=True)
        axes["xaxis" + xa[1:]], axes["yaxis" + ya[1:]] = x_axis, y_axis
        annotations.append(_subtitle(label + (f" {muted('±' + fmt(m))}" if scaled else ""), x_domain[0], top))
    layout = base_layout(heading, height, margin=margin, plot_bgcolor=GAP_COLOR, annotations=annotations, **axes)
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------- feature maps

def _as_maps(maps: Any) -> np.ndarray:
    a = np.asarray(maps, dtype=np.float64)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"feature maps must have shape (height, width, channels), got {np.shape(maps)}")
    return a


def feature_map_mosaic(maps: np.ndarray, n: int, per_row: int = TILES_PER_ROW) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` channels of ``maps`` (h, w, channels) in a grid of tiles, ``per_row``
    a row, and the channel each cell belongs to (NaN in the gaps and empty tiles)."""
    h, w, _ = maps.shape
    cols = max(1, min(n, per_row))
    rows = -(-n // cols)
    tiles = np.full((rows * cols, h, w), np.nan)
    tiles[:n] = maps[:, :, :n].transpose(2, 0, 1)
    owner = np.full((rows * cols, h, w), np.nan)
    owner[:n] = np.arange(n, dtype=np.float64)[:, None, None]
    return _grid(tiles.reshape(rows, cols, h, w)), _grid(owner.reshape(rows, cols, h, w))


def _map_scale(values: np.ndarray) -> tuple[list, float, float]:
    """Non-negative maps (after ReLU, pooling of them): a sequential scale from 0; signed maps:
    the diverging scale, symmetric about 0."""
    finite = values[np.isfinite(values)]
    if finite.size and float(finite.min()) < 0:
        m = _symmetric_max(finite)
        return SIGNED_SCALE, -m, m
    top = float(finite.max()) if finite.size else 0.0
    return UNIT_SCALE, 0.0, top if top > 0 else 1.0


def feature_maps_figure(image: Any, layers: Sequence[tuple[str, Any]], max_channels: int = 16,
                        title: str = "Feature maps") -> dict[str, Any]:
    """One sample ``image`` (h, w, c) on top, then for every ``(label, maps)`` in ``layers``
    (maps: that layer's output for the sample, (h', w', channels)) a mosaic of its first
    ``max_channels`` channel maps, each layer on its own colour scale."""
    layers = list(layers or [])
    if not layers:
        return note_figure("The model has no convolution or pooling layer: there are no feature maps to show.",
                           title)
    img = _as_image(image)
    rows: list[dict[str, Any]] = []
    margin = {"l": 12, "r": 12, "t": 44, "b": 12}
    plot_w = NOMINAL_WIDTH_PX - margin["l"] - margin["r"]

    trace, note = _image_trace(img, "x", "y")
    rows.append({"trace": trace, "label": "Input sample · " + muted(note, 12),
                 "px": int(np.clip(120 * img.shape[0] / img.shape[1], 60, 160)), "width": MAPS_WIDTH,
                 "colorbar": False})
    for i, (label, maps) in enumerate(layers, start=2):
        a = _as_maps(maps)
        h, w, C = a.shape
        n = max(1, min(C, int(max_channels)))
        z, owner = feature_map_mosaic(a, n)
        scale, lo, hi = _map_scale(a[:, :, :n])
        rows_cells, cols_cells = z.shape
        trace = {"type": "heatmap", "name": str(label), "z": plain(z), "customdata": _ints(owner),
                 "xaxis": f"x{i}", "yaxis": f"y{i}", "colorscale": scale, "zmin": lo, "zmax": hi,
                 "hoverongaps": False,
                 "hovertemplate": "channel %{customdata}<br>value %{z:.4g}<extra></extra>"}
        if scale is SIGNED_SCALE:
            trace["zmid"] = 0
        px = int(np.clip(MAPS_WIDTH * plot_w * rows_cells / cols_cells, 56, 260))
        rows.append({"trace": trace, "label": f"{label} · " + muted(f"{count_text(n, C, 'channel')}, {h}×{w}", 12),
                     "px": px, "width": px * cols_cells / rows_cells / plot_w, "colorbar": True})

    plot_h = sum(r["px"] + SUBTITLE_PX for r in rows)
    height = plot_h + margin["t"] + margin["b"]
    data, annotations, axes = [], [], {}
    y = 1.0
    for k, row in enumerate(rows, start=1):
        top = y - SUBTITLE_PX / plot_h
        bottom = max(top - row["px"] / plot_h, 0.0)
        y = bottom
        suffix = "" if k == 1 else str(k)
        x_axis, y_axis = _mosaic_axes((0.0, min(row["width"], MAPS_WIDTH)), (bottom, top), "x" + suffix,
                                      "y" + suffix)
        axes["xaxis" + suffix], axes["yaxis" + suffix] = x_axis, y_axis
        trace = row["trace"]
        if row["colorbar"]:
            trace["colorbar"] = _colorbar(min(row["width"], MAPS_WIDTH) + 0.01, (bottom, top))
        data.append(trace)
        annotations.append(_subtitle(row["label"], 0.0, top))
    layout = base_layout(title, height, margin=margin, plot_bgcolor=GAP_COLOR, annotations=annotations, **axes)
    return {"data": data, "layout": layout}


def image_figure(image: Any, title: str = "") -> dict[str, Any]:
    """The sample alone, small (a preview for a sample picker)."""
    img = _as_image(image)
    trace, _ = _image_trace(img, "x", "y")
    height = 170 + (30 if title else 0)
    x_axis, y_axis = _mosaic_axes((0.0, 1.0), (0.0, 1.0), "x", "y")
    x_axis["constraintoward"] = "center"
    layout = base_layout(title, height, margin={"l": 4, "r": 4, "t": 30 if title else 4, "b": 4},
                         xaxis=x_axis, yaxis=y_axis)
    return {"data": [trace], "layout": layout}
