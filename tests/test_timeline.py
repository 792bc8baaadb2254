"""A run's timeline (dashboard.timeline) and its figures (viz.timeline): fixed bins,
counts and percentiles against NumPy, thinning past the cap, frames within their budget,
the initial weights kept exactly, and the Train job keeping it."""
from __future__ import annotations

import numpy as np
import pytest

from dashboard import jobs, presets, store
from dashboard import spec as spec_mod
from dashboard.timeline import BINS, PERCENTILES, Timeline
from viz import timeline as figures

pytestmark = pytest.mark.usefixtures("shared_data")


def small_model(seed=3):
    form = presets.preset_form("dense")
    form.update(init_seed=seed, epochs=3)
    spec = spec_mod.check(form).spec
    return spec, spec_mod.build_model(spec)


def train_batches(model, X, Y, n, lr=0.05):
    for _ in range(n):
        model.forward(X)
        model.backward(Y)
        model.step(lr)


def data(n=64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[(X[:, 0] * X[:, 1] > 0).astype(int)]
    return X, Y


def test_counts_and_bands_are_numpy_s_on_bins_fixed_at_the_first_step():
    _, model = small_model()
    X, Y = data()
    timeline = Timeline(model, X)
    timeline.add(model, 0, 0.0)
    first = timeline.to_dict()
    edges0 = [entry["params"]["edges"].copy() for entry in first["layers"]]
    for k in range(1, 6):
        train_batches(model, X, Y, 3)
        timeline.add(model, 3 * k, k / 2)
    out = timeline.to_dict()
    assert out["steps"] == [0, 3, 6, 9, 12, 15]
    assert [e["layer"] for e in out["layers"]] == [0, 1, 2]
    outputs = model.layer_outputs(X)
    for i, entry in enumerate(out["layers"]):
        layer = model.layers[entry["layer"]]
        np.testing.assert_array_equal(entry["params"]["edges"], edges0[i])      # never re-binned
        for kind, values in (("params", layer.W), ("grads", layer.grad_W), ("acts", outputs[entry["layer"]])):
            values = np.asarray(values, dtype=np.float64).ravel()
            edges = entry[kind]["edges"]
            counts = entry[kind]["counts"][-1]
            assert counts.shape == (BINS,) and counts.sum() == values.size
            inside = (values >= edges[0]) & (values <= edges[-1])
            expected, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
            np.testing.assert_array_equal(counts, expected)
            assert entry[kind]["outside"][-1] == np.count_nonzero(~inside)
            # (the model computes in float32: the timeline's own pass may round apart from this one by
            # float32's precision of the values' scale, which is all of a percentile that sits at zero)
            np.testing.assert_allclose(entry[kind]["bands"][-1], np.percentile(values, PERCENTILES),
                                       rtol=1e-7, atol=1e-6 * np.abs(values).max())
    # Activations of a tanh layer are binned on its range; gradients start empty (no batch yet).
    assert out["layers"][0]["acts"]["edges"][[0, -1]].tolist() == [-1.0, 1.0]
    assert first["layers"][0]["grads"]["edges"] is None
    assert out["layers"][0]["grads"]["counts"][0].sum() == 0


def test_past_the_cap_the_oldest_are_thinned_and_the_first_and_last_stay():
    _, model = small_model()
    timeline = Timeline(model, None, max_steps=1000)
    for step in range(2500):
        timeline.add(model, step, step / 10)
        assert len(timeline.steps) <= 1000
        assert timeline.steps[0] == 0 and timeline.steps[-1] == step
    gaps = np.diff(timeline.steps)
    assert np.all(gaps[:-1] >= gaps[1:])          # sparser the further back, never the other way
    assert set(gaps[-400:].tolist()) == {1}       # the recent past keeps every step
    assert timeline.steps[1] < 100                # and the start of the run is still in view
    out = timeline.to_dict()
    assert out["layers"][0]["params"]["counts"].shape == (len(timeline.steps), BINS)
    assert len(timeline.steps) >= 500


def test_a_thousand_steps_are_all_kept():
    _, model = small_model()
    timeline = Timeline(model, None)
    for step in range(1000):
        timeline.add(model, step, 0.0)
    assert timeline.steps == list(range(1000))


def test_frames_keep_the_initial_weights_exactly_and_stay_in_their_budget():
    spec, model = small_model(seed=11)
    fresh = spec_mod.build_model(spec)
    X, Y = data()
    kept: dict[int, dict] = {}
    n_params = sum(getattr(layer, name).size for layer in model.layers for name in layer.param_names)
    budget = 5 * n_params * 4 * 2           # five frames of float32 parameters and gradients
    timeline = Timeline(model, X, frame_budget=budget)
    for step in range(40):
        timeline.add(model, step, 0.0, put_frame=kept.__setitem__, drop_frame=kept.pop)
        train_batches(model, X, Y, 1)
    assert len(timeline.frames) <= 5 and set(kept) == {serial for _, serial in timeline.frames}
    assert timeline.frames[0][0] == 0 and timeline.frames[-1][0] == 39
    first = kept[timeline.frames[0][1]]
    for layer, again in zip(first["layers"], fresh.layers):
        for name in again.param_names:
            np.testing.assert_array_equal(layer["params"][name], getattr(again, name))


def test_ridge_steps_spread_over_the_run():
    assert figures.ridge_steps(5) == [0, 1, 2, 3, 4]
    chosen = figures.ridge_steps(1000, 40)
    assert len(chosen) == 40 and chosen[0] == 0 and chosen[-1] == 999


def test_the_figures_draw_the_kept_counts_and_bands():
    _, model = small_model()
    X, Y = data()
    timeline = Timeline(model, X)
    for step in range(50):
        timeline.add(model, step, step / 10)
        train_batches(model, X, Y, 1)
    out = timeline.to_dict()
    entry = out["layers"][1]
    fig = figures.offset_figure(entry, "params", out["steps"], out["epochs"], "Layer 2", selected=7)
    assert len(fig["data"]) == 41            # 40 spread steps and the selected one
    ridge = next(t for t in fig["data"] if t["name"] == "step 7")
    assert ridge["line"]["width"] > 2 and ridge["customdata"] == entry["params"]["counts"][7].tolist()
    bands = figures.bands_figure(entry, "grads", out["steps"], out["epochs"], "Layer 2", out["percentiles"], 7)
    median = next(t for t in bands["data"] if t.get("name") == "median")
    np.testing.assert_allclose(median["y"], entry["grads"]["bands"][:, PERCENTILES.index(50)], rtol=1e-4)
    assert bands["layout"]["shapes"][0]["x0"] == 7
    start = figures.now_vs_start_figure(entry, "params", out["steps"], "Layer 2", None)
    assert start["data"][0]["y"] == entry["params"]["counts"][0].tolist()
    assert start["data"][1]["y"] == entry["params"]["counts"][-1].tolist()


def test_a_train_run_keeps_its_timeline_and_step_0_is_the_seeded_initial_model(job_state):
    form = presets.preset_form("dense")
    form.update(init_seed=5, epochs=40)
    spec = spec_mod.check(form).spec
    session = "ef" * 16
    jobs.run(lambda progress: None, session, spec)
    timeline = store.get_timeline(session)
    assert timeline["steps"][0] == 0 and len(timeline["steps"]) >= 2
    assert timeline["steps"] == sorted(set(timeline["steps"]))
    serial = timeline["frames"][0][1]
    version = {"session": session, "version": store.get_snapshot(session)["version"]}
    scrubbed = store.snapshot_for(version, {"session": session, "frame": serial, "index": 0})
    initial = spec_mod.build_model(spec)
    assert scrubbed["step"] == 0
    for layer, again in zip(scrubbed["layers"], initial.layers):
        np.testing.assert_array_equal(layer["params"]["W"], again.W)
    live = store.snapshot_for(version)
    assert "step" not in live and not np.array_equal(live["layers"][0]["params"]["W"], initial.layers[0].W)
