"""A Train that cannot continue the tab's model (another network, other data) says so in
its progress, instead of replacing it without a word."""
from __future__ import annotations

import pytest

from dashboard import jobs, presets, spec as spec_mod, store
from engine import FFNN

SESSION = "7d" * 16
pytestmark = pytest.mark.usefixtures("shared_data")


def _messages(spec) -> list[str]:
    seen = []
    jobs.run(lambda progress: seen.append(progress[0]["message"]), SESSION, spec)
    return seen


def test_a_model_of_another_network_is_named_when_train_replaces_it(job_state):
    other = FFNN([784, 16, 10], ["relu", "softmax"], loss="cce")
    store.put_model(SESSION, jobs.model_bytes(other, spec_mod.spec_from_model(other), jobs.empty_history(True), {}),
                    None, jobs.empty_history(True), filename="mnist-mlp.npz")
    form = presets.preset_form("dense")
    form.update(epochs=2, init_seed=0)
    first = _messages(spec_mod.check(form).spec)[0]
    assert first.startswith("New model (mnist-mlp.npz (takes (784,) and gives (10,)) is not the network in the "
                            "form; this run starts a new model in its place)")
    # the run's own model is continued by the next Train, without a note
    again = _messages(spec_mod.check(form).spec)[0]
    assert again.startswith("Continuing from epoch 2")
