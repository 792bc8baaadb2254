"""fit: mini-batches, shuffling with a seed, validation, progress bar, early stop,
callbacks that can stop training, and a clear stop when the loss becomes NaN."""
import numpy as np
import pytest

from engine import FFNN, TrainingDivergedWarning


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return X.astype(np.float32), y


def model(**extra):
    params = dict(loss="cce", init="xavier", init_params={"seed": 0}, optimizer="adam")
    params.update(extra)
    return FFNN([2, 8, 2], ["tanh", "softmax"], **params)


def test_history_has_one_value_per_epoch_and_learns():
    X, y = blobs()
    h = model().fit(X, y, batch_size=20, learning_rate=0.05, epochs=6, verbose=0, validation_data=blobs(seed=1))
    assert [len(h[k]) for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy")] == [6] * 4
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h["val_accuracy"][-1] > 0.95


def test_training_loss_is_the_mean_of_batch_losses():
    X, y = blobs(n=50)
    m = model()
    seen = []
    h = m.fit(X, y, batch_size=20, learning_rate=0.01, epochs=1, verbose=0, shuffle=False,
              callbacks=[lambda mdl, logs: seen.append(logs["loss"]) if logs["event"] == "batch" else None])
    assert len(seen) == 3  # 20 + 20 + 10
    assert h["train_loss"][0] == pytest.approx((20 * seen[0] + 20 * seen[1] + 10 * seen[2]) / 50)


def test_same_seed_same_result_other_seed_differs():
    X, y = blobs()
    runs = [model().fit(X, y, batch_size=16, learning_rate=0.05, epochs=2, verbose=0, seed=s)["train_loss"]
            for s in (3, 3, 4)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_validation_loss_equals_evaluate():
    X, y = blobs()
    Xv, yv = blobs(seed=2)
    m = model(l2=0.01)
    h = m.fit(X, y, batch_size=32, learning_rate=0.05, epochs=2, verbose=0, validation_data=(Xv, yv))
    ev = m.evaluate(Xv, yv)
    assert h["val_loss"][-1] == pytest.approx(ev["loss"], rel=1e-6)
    P = m.predict(Xv)
    assert ev["accuracy"] == pytest.approx(np.mean(P.argmax(1) == yv))


def test_error_threshold_stops_early():
    X, y = blobs()
    h = model().fit(X, y, batch_size=20, learning_rate=0.05, epochs=50, verbose=0, error_threshold=0.05)
    assert len(h["train_loss"]) < 50
    assert h["train_loss"][-1] <= 0.05 < min(h["train_loss"][:-1])
    assert "error_threshold" in h["stop_reason"]


def test_callback_can_stop_training_midway():
    X, y = blobs()
    m = model()
    batches = []

    class StopAfterFive:
        def on_batch_end(self, mdl, logs):
            batches.append((logs["epoch"], logs["batch"]))
            if len(batches) == 5:
                mdl.stop_training = True

    h = m.fit(X, y, batch_size=10, learning_rate=0.05, epochs=3, verbose=0, callbacks=[StopAfterFive()])
    assert batches == [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5)]
    assert h["train_loss"] == [] and "batch 5" in h["stop_reason"]


def test_epoch_callbacks_see_the_history_so_far():
    X, y = blobs()
    seen = []
    model().fit(X, y, batch_size=50, epochs=3, verbose=0,
                callbacks=[lambda m, logs: seen.append(len(logs["history"]["train_loss"]))
                           if logs["event"] == "epoch" else None])
    assert seen == [1, 2, 3]


def test_nan_loss_stops_with_a_clear_message_and_finite_weights():
    X, y = blobs()
    X = X * 1e4
    m = FFNN([2, 16, 1], ["relu", "linear"], loss="mse", init="normal", init_params={"variance": 1.0, "seed": 0},
             optimizer="sgd")
    with pytest.warns(TrainingDivergedWarning) as caught:
        h = m.fit(X, y.astype(np.float32) * 1e4, batch_size=20, learning_rate=10.0, epochs=5, verbose=0)
    message = h["stop_reason"]
    assert str(caught[0].message) == message
    assert "epoch 1" in message and "batch" in message and "learning rate" in message
    assert all(np.isfinite(layer.W).all() and np.isfinite(layer.b).all() for layer in m.layers)


def test_verbose_progress_bar_shows_training_and_validation_loss(capsys):
    X, y = blobs()
    model().fit(X, y, batch_size=20, epochs=2, verbose=1, validation_data=blobs(seed=1))
    err = capsys.readouterr().err
    assert "Epoch 2/2" in err and "loss=" in err and "val_loss=" in err


def test_verbose_zero_is_silent(capsys):
    X, y = blobs()
    model().fit(X, y, batch_size=20, epochs=2, verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_manual_forward_backward_step_equals_one_fit_batch():
    X, y = blobs(n=20)
    a, b = model(optimizer="sgd"), model(optimizer="sgd")
    a.fit(X, y, batch_size=20, learning_rate=0.1, epochs=1, verbose=0, shuffle=False)
    b.forward(X)
    b.backward(y)
    b.step(0.1)
    assert np.array_equal(a.layers[0].W, b.layers[0].W)


def test_summary_lists_layers_and_parameter_count():
    text = FFNN([784, 128, 10], ["relu", "softmax"], loss="cce").summary(print_fn=None)
    assert "Dense(128, ReLU)" in text and "Dense(10, Softmax)" in text
    assert "Total parameters: 101,770" in text


def test_zero_initialised_hidden_weights_stay_zero():
    """As the report observed: with zero init only the biases (and the last layer) learn."""
    X, y = blobs()
    m = model(init="zeros")
    m.fit(X, y, batch_size=20, learning_rate=0.05, epochs=2, verbose=0)
    assert not m.layers[0].W.any()
