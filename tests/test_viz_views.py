"""The conv, sequence and embedding figure builders: values land where the mosaics say,
titles count what is left out, colour ranges follow the data, and every figure is plain JSON."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from viz.conv import feature_maps_figure, image_figure, kernels_figure
from viz.embeddings import embedding_figure, pca_2d
from viz.sequences import hidden_state_figure
from viz.style import GRAY_SCALE, SIGNED_SCALE, UNIT_SCALE, plain

VIZ = Path(__file__).resolve().parents[1] / "viz"
PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))


def assert_plain(obj, where="figure"):
    """Only JSON's own Python types (no NumPy scalars, arrays or tuples), no NaN."""
    assert type(obj) in PLAIN_TYPES, f"{where}: {type(obj).__name__}"
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str, f"{where}: key {k!r}"
            assert_plain(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_plain(v, f"{where}[{i}]")
    elif type(obj) is float:
        assert np.isfinite(obj), f"{where}: {obj}"


def check_json(fig):
    assert set(fig) == {"data", "layout"}
    assert_plain(fig)
    json.dumps(fig, allow_nan=False)
    return fig


def annotation_texts(fig):
    return [a["text"] for a in fig["layout"].get("annotations", [])]


def kernel_values(kh, kw, C, F):
    """W[p, q, c, f] = 1000 f + 100 c + 10 p + q + 1: every cell tells where it came from."""
    p, q, c, f = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(C), np.arange(F), indexing="ij")
    return (1000.0 * f + 100 * c + 10 * p + q + 1)


# ---------------------------------------------------------------- plain()

def test_plain_rounds_to_five_significant_digits_and_drops_nan():
    out = plain(np.array([[0.123456789, -98765.4321, np.nan], [3.14159265e-7, 0.0, np.inf]]))
    assert out == [[0.12346, -98765.0, None], [3.1416e-07, 0.0, None]]
    assert all(type(v) is float for v in plain(np.arange(3, dtype=np.int64)))


# ---------------------------------------------------------------- kernels

def test_kernel_cells_sit_at_their_mosaic_positions_and_gaps_are_none():
    kh, kw, C, F = 3, 2, 4, 5
    W = kernel_values(kh, kw, C, F)
    fig = check_json(kernels_figure(W, -W / 1000, max_filters=3, max_channels=2))
    weights, grads = fig["data"]
    assert (weights["name"], grads["name"]) == ("weights", "gradients")
    z, zg = np.array(weights["z"], dtype=object), np.array(grads["z"], dtype=object)
    assert z.shape == zg.shape == (2 * (kh + 1) - 1, 3 * (kw + 1) - 1)    # a row per channel, a column per filter
    for f in range(3):
        for c in range(2):
            for p in range(kh):
                for q in range(kw):
                    r, col = c * (kh + 1) + p, f * (kw + 1) + q
                    assert z[r, col] == 1000 * f + 100 * c + 10 * p + q + 1
                    assert zg[r, col] == pytest.approx(-(1000 * f + 100 * c + 10 * p + q + 1) / 1000)
                    assert weights["y"][r] == f"channel {c}, row {p}"
                    assert weights["x"][col] == f"filter {f}, column {q}"
    gap_rows = [c * (kh + 1) + kh for c in range(1)]
    gap_cols = [f * (kw + 1) + kw for f in range(2)]
    for grid in (z, zg):
        assert all(v is None for r in gap_rows for v in grid[r])
        assert all(v is None for c in gap_cols for v in grid[:, c])
        assert sum(v is None for v in grid.ravel()) == grid.size - 3 * 2 * kh * kw
    assert len(set(weights["x"])) == len(weights["x"]) and len(set(weights["y"])) == len(weights["y"])


def test_kernel_titles_count_what_is_shown():
    W = np.ones((3, 3, 32, 64))
    assert "16 of 64 filters × 8 of 32 input channels · 3×3" in kernels_figure(W)["layout"]["title"]["text"]
    assert "all 8 filters × 1 input channel · 5×5" in kernels_figure(np.ones((5, 5, 1, 8)))["layout"]["title"]["text"]
    heading = kernels_figure(np.ones((3, 3, 3, 1)), title="conv2d")["layout"]["title"]["text"]
    assert heading.startswith("conv2d") and "1 filter × all 3 input channels" in heading
    assert "2 of 1,200 filters" in kernels_figure(np.ones((1, 1, 1, 1200)), max_filters=2)["layout"]["title"]["text"]


def test_kernel_colour_ranges_are_symmetric_over_the_shown_values_only():
    rng = np.random.default_rng(1)
    W, dW = rng.normal(size=(3, 3, 4, 6)), rng.normal(size=(3, 3, 4, 6)) * 1e-3
    W[0, 0, 3, 5] = 100.0                                # outside the shown part
    dW[0, 0, 3, 5] = 5.0
    fig = check_json(kernels_figure(W, dW, max_filters=4, max_channels=2))
    for trace, values in zip(fig["data"], (W, dW)):
        m = np.abs(values[:, :, :2, :4]).max()
        assert trace["zmax"] == pytest.approx(m) and trace["zmin"] == -trace["zmax"]
        assert trace["zmid"] == 0 and trace["colorscale"] == SIGNED_SCALE
        assert "colorbar" in trace
    assert fig["data"][0]["zmax"] != pytest.approx(fig["data"][1]["zmax"])


@pytest.mark.parametrize("dW", [None, "zeros"])
def test_kernel_without_gradients_says_no_batch_trained_yet(dW):
    W = np.random.default_rng(2).normal(size=(3, 3, 2, 4))
    fig = check_json(kernels_figure(W, np.zeros_like(W) if dW == "zeros" else None))
    grads = fig["data"][1]
    assert grads["showscale"] is False
    cells = [v for row in grads["z"] for v in row if v is not None]
    assert len(cells) == W.size and all(v == 0 for v in cells)
    assert sum("no batch trained yet" in t for t in annotation_texts(fig)) == 1
    trained = kernels_figure(W, W * 0.01)
    assert not any("no batch trained yet" in t for t in annotation_texts(trained))


def test_kernel_axes_are_square_tickless_and_channel_zero_on_top():
    layout = kernels_figure(np.ones((3, 3, 2, 4)), np.ones((3, 3, 2, 4)))["layout"]
    for x, y in (("xaxis", "yaxis"), ("xaxis2", "yaxis2")):
        assert layout[y]["scaleanchor"] == "x" + x[5:] and layout[y]["autorange"] == "reversed"
        assert layout[x]["showticklabels"] is False and layout[y]["showticklabels"] is False
        assert layout[x]["domain"][1] <= 1 and layout[x]["domain"][0] >= 0
    assert layout["xaxis"]["domain"][1] < layout["xaxis2"]["domain"][0]


def test_kernel_height_grows_with_channel_rows_within_bounds():
    heights = [kernels_figure(np.ones((3, 3, c, 4)))["layout"]["height"] for c in (1, 4, 8, 16, 64)]
    assert heights == sorted(heights) and heights[0] >= 180 and heights[-1] <= 640
    assert heights[1] < heights[2]


def test_kernel_shape_errors():
    with pytest.raises(ValueError):
        kernels_figure(np.ones((3, 3, 2, 4)), np.ones((3, 3, 2, 5)))
    with pytest.raises(ValueError):
        kernels_figure(np.ones((3, 3)))


# ---------------------------------------------------------------- feature maps

def map_values(h, w, C):
    """maps[i, j, k] = 100 k + 10 i + j + 1."""
    i, j, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(C), indexing="ij")
    return 100.0 * k + 10 * i + j + 1


def test_feature_map_tiles_sit_in_a_grid_of_eight_a_row():
    h, w, C = 3, 2, 11
    maps = map_values(h, w, C)
    fig = check_json(feature_maps_figure(np.zeros((5, 4, 1)), [("conv2d", maps)], max_channels=10))
    assert len(fig["data"]) == 2
    trace = fig["data"][1]
    z, owner = np.array(trace["z"], dtype=object), np.array(trace["customdata"], dtype=object)
    assert z.shape == owner.shape == (2 * (h + 1) - 1, 8 * (w + 1) - 1)
    for k in range(10):
        tr, tc = divmod(k, 8)
        for i in range(h):
            for j in range(w):
                r, c = tr * (h + 1) + i, tc * (w + 1) + j
                assert z[r, c] == 100 * k + 10 * i + j + 1
                assert owner[r, c] == k
    assert sum(v is not None for v in z.ravel()) == 10 * h * w        # channel 10 left out
    assert all(v is None for v in z[h])                               # the gap row
    assert all(v is None for v in z[h + 1:, 2 * (w + 1):].ravel())    # the empty tiles
    assert any("conv2d" in t and "10 of 11 channels, 3×2" in t for t in annotation_texts(fig))


def test_feature_maps_default_truncation_and_full_count():
    rng = np.random.default_rng(3)
    fig = check_json(feature_maps_figure(rng.random((8, 8, 1)), [("conv", rng.random((6, 6, 32))),
                                                                 ("pool", rng.random((3, 3, 4)))]))
    conv, pool = fig["data"][1], fig["data"][2]
    assert sum(v is not None for row in conv["z"] for v in row) == 16 * 36
    assert sum(v is not None for row in pool["z"] for v in row) == 4 * 9
    assert np.array(pool["z"], dtype=object).shape == (3, 4 * 4 - 1)  # 4 tiles in one row
    texts = annotation_texts(fig)
    assert any("16 of 32 channels, 6×6" in t for t in texts) and any("all 4 channels, 3×3" in t for t in texts)
    assert [t["yaxis"] for t in fig["data"]] == ["y", "y2", "y3"]


def test_feature_map_colour_scales_follow_the_sign_of_each_layer():
    rng = np.random.default_rng(4)
    relu = np.maximum(rng.normal(size=(4, 4, 3)), 0)
    signed = rng.normal(size=(4, 4, 3))
    signed[0, 0, 2] = -7.0
    fig = check_json(feature_maps_figure(rng.random((6, 6, 1)), [("relu", relu), ("linear", signed)]))
    _, a, b = fig["data"]
    assert a["colorscale"] == UNIT_SCALE and a["zmin"] == 0 and a["zmax"] == pytest.approx(relu.max())
    assert b["colorscale"] == SIGNED_SCALE and b["zmax"] == pytest.approx(7.0) and b["zmin"] == -b["zmax"]


def test_rgb_image_trace_is_rescaled_to_0_255():
    rng = np.random.default_rng(5)
    standardised = rng.normal(size=(6, 5, 3))
    trace = check_json(feature_maps_figure(standardised, [("c", np.ones((2, 2, 1)))]))["data"][0]
    z = np.array(trace["z"])
    assert trace["type"] == "image" and z.shape == (6, 5, 3)
    assert z.min() == 0 and z.max() == 255
    expected = np.round((standardised - standardised.min()) / np.ptp(standardised) * 255)
    assert np.array_equal(z, expected)
    unit = rng.random((4, 4, 3))
    assert np.array_equal(np.array(image_figure(unit)["data"][0]["z"]), np.round(unit * 255))
    bytes_ = rng.integers(0, 256, size=(4, 4, 3)).astype(np.float64)
    assert np.array_equal(np.array(image_figure(bytes_)["data"][0]["z"]), bytes_)


def test_grey_image_is_a_grey_heatmap_of_the_sample():
    img = np.arange(12, dtype=np.float64).reshape(3, 4, 1) / 7
    for fig in (feature_maps_figure(img, [("c", np.ones((2, 2, 1)))]), image_figure(img, title="sample 0")):
        trace = check_json(fig)["data"][0]
        assert trace["type"] == "heatmap" and trace["colorscale"] == GRAY_SCALE
        assert np.allclose(np.array(trace["z"], dtype=float), img[:, :, 0], rtol=1e-4)
    assert image_figure(img, title="sample 0")["layout"]["title"]["text"] == "sample 0"
    assert image_figure(img)["layout"]["height"] <= 220


def test_no_conv_layer_gives_a_note():
    fig = check_json(feature_maps_figure(np.zeros((4, 4, 1)), []))
    assert fig["data"] == [] and "no convolution or pooling layer" in annotation_texts(fig)[0]


# ---------------------------------------------------------------- hidden state

def test_hidden_state_heatmaps_are_the_given_arrays_transposed():
    rng = np.random.default_rng(6)
    tokens = ["the", "cat", "saw", "the", "dog"]
    states = {"hidden state h": np.tanh(rng.normal(size=(5, 6))), "input gate i": rng.random((5, 6)),
              "forget gate f": rng.random((5, 6)), "output gate o": rng.random((5, 6))}
    fig = check_json(hidden_state_figure(tokens, states))
    assert [t["name"] for t in fig["data"]] == list(states)
    layout = fig["layout"]
    for k, (trace, values) in enumerate(zip(fig["data"], states.values()), start=1):
        assert np.allclose(np.array(trace["z"], dtype=float), values.T, rtol=1e-4, atol=1e-9)
        assert trace["xaxis"] == "x" and trace["yaxis"] == ("y" if k == 1 else f"y{k}")
        assert trace["y"] == list(range(6))
        assert trace["x"] == layout["xaxis"]["tickvals"]
    assert layout["xaxis"]["ticktext"] == tokens
    assert len(set(fig["data"][0]["x"])) == 5                          # 'the' twice, two columns
    h, gate = fig["data"][0], fig["data"][1]
    assert (h["zmin"], h["zmax"], h["colorscale"]) == (-1, 1, SIGNED_SCALE)
    for gate in fig["data"][1:]:
        assert (gate["zmin"], gate["zmax"], gate["colorscale"]) == (0, 1, UNIT_SCALE)
    domains = [layout["yaxis" + ("" if k == 1 else str(k))]["domain"] for k in range(1, 5)]
    assert all(a[0] >= b[1] for a, b in zip(domains, domains[1:]))      # stacked, first on top


def test_hidden_state_truncates_units_and_tokens_and_says_so():
    rng = np.random.default_rng(7)
    tokens = [f"w{i}" for i in range(100)]
    fig = check_json(hidden_state_figure(tokens, {"forward h": rng.uniform(-1, 1, (100, 64)),
                                                  "backward h": rng.uniform(-1, 1, (100, 64))}))
    heading = fig["layout"]["title"]["text"]
    assert "32 of 64 units" in heading and "60 of 100 tokens" in heading
    for trace in fig["data"]:
        assert np.array(trace["z"]).shape == (32, 60)
    assert fig["layout"]["xaxis"]["ticktext"] == tokens[:60]
    small = hidden_state_figure(tokens[:3], {"hidden state h": np.zeros((3, 4))})
    assert "all 4 units" in small["layout"]["title"]["text"] and "of" not in small["layout"]["title"]["text"]


def test_hidden_state_height_grows_with_panels():
    T = 4
    one = hidden_state_figure(["a"] * T, {"hidden state h": np.zeros((T, 16))})["layout"]["height"]
    four = hidden_state_figure(["a"] * T, {n: np.zeros((T, 16)) for n in ("h", "i gate", "f gate", "o gate")})
    assert four["layout"]["height"] > one + 150


def test_hidden_state_empty_and_mismatched():
    fig = check_json(hidden_state_figure([], {"hidden state h": np.zeros((0, 4))}))
    assert fig["data"] == [] and "This sample has no tokens" in annotation_texts(fig)[0]
    with pytest.raises(ValueError):
        hidden_state_figure(["a", "b"], {"hidden state h": np.zeros((3, 4))})


# ---------------------------------------------------------------- PCA and embeddings

def test_pca_2d_matches_sklearn():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(8)
    X = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6)) + 3.0
    coords, ratio = pca_2d(X)
    ref = PCA(n_components=2).fit(X)
    expected = ref.transform(X)
    assert coords.shape == (80, 2) and ratio.shape == (2,)
    for i in range(2):
        sign = np.sign(coords[:, i] @ expected[:, i])
        assert np.allclose(coords[:, i], sign * expected[:, i], atol=1e-8)
    assert np.allclose(ratio, ref.explained_variance_ratio_)


def test_pca_2d_sign_is_deterministic_and_one_dimension_works():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 4)) * [5, 3, 1, 0.5]
    coords, _ = pca_2d(X)
    flipped, _ = pca_2d(-X)
    assert np.allclose(flipped, -coords)        # the components keep their sign, the data flips
    Xc = X - X.mean(axis=0)
    loadings = np.linalg.lstsq(Xc, coords, rcond=None)[0]         # coords = Xc @ loadings
    for i in range(2):
        v = loadings[:, i]
        assert np.isclose(np.linalg.norm(v), 1.0) and v[np.argmax(np.abs(v))] > 0
    skewed = rng.normal(size=(40, 3)) @ np.array([[1.0, 0, 0], [-0.4, 3.0, 0], [0, 0, 0.2]])
    v0 = np.linalg.lstsq(skewed - skewed.mean(axis=0), pca_2d(skewed)[0], rcond=None)[0][:, 0]
    assert abs(v0[1]) > abs(v0[0]) and v0[1] > 0
    x1 = rng.normal(size=(10, 1))
    c1, r1 = pca_2d(x1)
    assert np.allclose(c1[:, 0], x1[:, 0] - x1.mean()) and np.all(c1[:, 1] == 0)
    assert np.allclose(r1, [1.0, 0.0])


def test_embedding_figure_projects_the_most_frequent_words():
    rng = np.random.default_rng(10)
    W = rng.normal(size=(50, 8))
    words = ["", "[UNK]"] + [f"word{i}" for i in range(48)]
    fig = check_json(embedding_figure(W, words, n_points=20, n_labels=5))
    (trace,) = fig["data"]
    coords, ratio = pca_2d(W[2:22])
    assert np.allclose(trace["x"], coords[:, 0], rtol=1e-4, atol=1e-9)
    assert np.allclose(trace["y"], coords[:, 1], rtol=1e-4, atol=1e-9)
    assert trace["text"] == words[2:7] + [""] * 15
    assert trace["customdata"] == [[words[i], i] for i in range(2, 22)]
    assert fig["layout"]["title"]["text"] == "Embeddings · 20 of 48 words (most frequent), PCA to 2-D"
    assert fig["layout"]["xaxis"]["title"]["text"] == f"PC 1 ({100 * ratio[0]:.0f}% of variance)"
    assert fig["layout"]["yaxis"]["title"]["text"].startswith("PC 2 (")
    everything = embedding_figure(W, words)
    assert "all 48 words" in everything["layout"]["title"]["text"] and len(everything["data"][0]["x"]) == 48


def test_embedding_figure_needs_two_words():
    fig = check_json(embedding_figure(np.ones((3, 4)), ["", "[UNK]", "one"]))
    assert fig["data"] == [] and annotation_texts(fig)


# ---------------------------------------------------------------- every builder

def all_figures(dtype):
    rng = np.random.default_rng(11)
    a = lambda *shape: rng.normal(size=shape).astype(dtype)  # noqa: E731
    return {
        "kernels": kernels_figure(a(3, 3, 2, 4), a(3, 3, 2, 4)),
        "kernels no grad": kernels_figure(a(3, 3, 2, 4)),
        "feature maps": feature_maps_figure(a(8, 8, 1), [("conv", np.maximum(a(6, 6, 20), 0)), ("pool", a(3, 3, 20))]),
        "feature maps rgb": feature_maps_figure(a(8, 8, 3), [("conv", a(6, 6, 2))]),
        "image": image_figure(a(8, 8, 3), title="x"),
        "hidden": hidden_state_figure(["a", "b", "c"], {"hidden state h": np.tanh(a(3, 40)),
                                                        "input gate i": np.abs(np.tanh(a(3, 40)))}),
        "embedding": embedding_figure(a(30, 5), ["", "[UNK]"] + [f"w{i}" for i in range(28)]),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_builder_accepts_float32_and_float64(dtype):
    figures = all_figures(dtype)
    for fig in figures.values():
        check_json(fig)
    other = all_figures(np.float64 if dtype is np.float32 else np.float32)
    for name, fig in figures.items():
        for t1, t2 in zip(fig["data"], other[name]["data"]):
            z1 = np.array(t1.get("z", t1.get("x")), dtype=float)
            z2 = np.array(t2.get("z", t2.get("x")), dtype=float)
            assert np.allclose(z1, z2, rtol=1e-3, atol=1e-5, equal_nan=True), name


def test_nan_values_become_none():
    W = np.ones((2, 2, 1, 1))
    W[0, 1, 0, 0] = np.nan
    fig = check_json(kernels_figure(W))
    assert fig["data"][0]["z"][0][1] is None
    fig = check_json(hidden_state_figure(["a", "b"], {"hidden state h": np.array([[np.nan], [0.5]])}))
    assert fig["data"][0]["z"] == [[None, 0.5]]


def test_figures_are_valid_plotly():
    go = pytest.importorskip("plotly.graph_objects")
    for name, fig in all_figures(np.float64).items():
        go.Figure(fig)                                   # raises on an unknown property or bad value
    go.Figure(feature_maps_figure(np.zeros((2, 2, 1)), []))
    go.Figure(hidden_state_figure([], {}))


def test_builders_import_numpy_and_style_only():
    for name in ("conv.py", "sequences.py", "embeddings.py"):
        tree = ast.parse((VIZ / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add("." * node.level + (node.module or "").split(".")[0])
        assert imported <= {"__future__", "typing", "numpy", ".style"}, (name, imported)
