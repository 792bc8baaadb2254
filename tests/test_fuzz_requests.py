"""Seeded fuzzing of what a user (or a script posing as the page) can send: the form's
values, CSV uploads and model uploads, posted to the running server exactly as the page
posts its callbacks (``/_dash-update-component``).

Every request must be answered (never an HTTP 500, never the alert line's "could not
answer"), and every refusal must say something: a form the server refuses has a message
for a field, a CSV it refuses has its reason, a model file it refuses has its reason.
Anything the form accepts, the server's own re-check at Train (``spec.recheck``) accepts.
"""
from __future__ import annotations

import base64
import io
import json
import random
import urllib.request
import zipfile

import numpy as np
import pytest

from dashboard import spec as spec_mod
from dashboard.panels import alerts

SEED = 20261202
FORM_CASES = 300
CSV_CASES = 150
MODEL_CASES = 100
SESSION = "f" * 32


# -- posting callbacks as the page does ---------------------------------------------------------------
class Page:
    """The server's layout and callbacks, and a way to call one with chosen input values."""

    def __init__(self, url: str):
        self.url = url
        self.layout = self._get("_dash-layout")
        self.callbacks = self._get("_dash-dependencies")
        self.props: dict[str, dict] = {}
        self._walk(self.layout)

    def _get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response)

    def _walk(self, node) -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item)
        elif isinstance(node, dict):
            props = node.get("props", {})
            if "id" in props:
                self.props[_key(props["id"])] = props
            for value in props.values():
                self._walk(value)

    def callback(self, input_id: str, prop: str) -> dict:
        return next(cb for cb in self.callbacks if any(i["id"] == input_id and i["property"] == prop
                                                         for i in cb["inputs"]))

    def _matches(self, pattern: str) -> list:
        """The ids in the layout a callback dependency's id (maybe with ALL) names."""
        if not pattern.startswith("{"):
            return [pattern]
        wanted = json.loads(pattern)
        found = []
        for key in self.props:
            if not key.startswith("{"):
                continue
            have = json.loads(key)
            if set(have) == set(wanted) and all(v == ["ALL"] or have[k] == v for k, v in wanted.items()):
                found.append(have)
        return sorted(found, key=lambda d: json.dumps(d, sort_keys=True))

    def _item(self, dep: dict, values: dict) -> object:
        ids = self._matches(dep["id"])
        prop = dep["property"]

        def one(cid):
            key = _key(cid)
            return {"id": cid, "property": prop,
                    "value": values[(key, prop)] if (key, prop) in values else self.props.get(key, {}).get(prop)}
        return [one(c) for c in ids] if dep["id"].startswith("{") else one(ids[0])

    def call(self, cb: dict, values: dict, changed: list[str]) -> tuple[int, dict]:
        outputs = []
        for part in cb["output"].strip(".").split("..."):
            cid, prop = part.rsplit(".", 1)
            ids = self._matches(cid)
            out = [{"id": c, "property": prop} for c in ids]
            outputs.append(out if cid.startswith("{") else out[0])
        body = {"output": cb["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [self._item(d, values) for d in cb["inputs"]],
                "state": [self._item(d, values) for d in cb["state"]], "changedPropIds": changed}
        request = urllib.request.Request(self.url + "_dash-update-component", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else {})
        except urllib.error.HTTPError as exc:
            return exc.code, {"body": exc.read().decode(errors="replace")[:2000]}


def _key(cid) -> str:
    return cid if isinstance(cid, str) else json.dumps(cid, sort_keys=True, separators=(",", ":"))


def _no_alert(answer: dict) -> None:
    sides = json.dumps(answer.get("sideUpdate", {}))
    assert alerts.ALERT_TEXT not in sides, f"the server hit a fault: {sides[:600]}"


@pytest.fixture(scope="module")
def site(app_server):
    return Page(app_server if app_server.endswith("/") else app_server + "/")


# -- generated values ---------------------------------------------------------------------------------
def hostile(rng: random.Random):
    pool = [None, "", " ", "abc", "1e308", "-1", "0", "NaN", "Infinity", "-0", "0x10", "1,5", "١٢",
            1e308, -1e308, 10**30, -(10**30), 0, -1, 0.5, 1e-320, 2**63, 7, 3.0, True, False,
            [1, 2], {"a": 1}, [], "x" * rng.choice([10, 5000, 200_000]), "<script>alert(1)</script>",
            "../../etc/passwd", "数字", "\u0000", "tanh; DROP TABLE runs", "relu", "softmax", "Dense",
            rng.uniform(-1e6, 1e6), rng.randint(-10**9, 10**9)]
    return rng.choice(pool)


def test_form_values_are_answered_and_each_refusal_names_a_field(site):
    rng = random.Random(SEED)
    cb = site.callback("ctl-epochs", "value")
    fields = [(d["id"], d["property"]) for d in cb["inputs"] if not d["id"].startswith("{") and d["id"] != "csv-meta"]
    patterned = [k for k in site.props if k.startswith("{") and json.loads(k).get("type") in
                 ("stack-setting", "stack-type", "data-param", "opt-param", "init-param")]
    refused = accepted = 0
    for case in range(FORM_CASES):
        values = {}
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            key = rng.choice(fields + [(k, "value") for k in patterned])
            values[key] = hostile(rng)
        status, answer = site.call(cb, values, [f"{k}.{p}" for k, p in values])
        assert status in (200, 204), (case, values, status, answer)
        if status == 204:
            continue
        _no_alert(answer)
        response = answer["response"]
        config = response["form-config"]["data"]
        said = json.dumps({k: v for k, v in response.items() if k != "form-config"})
        assert "could not be checked" not in said, (case, values, said[:800])
        if config is None:
            refused += 1
            messages = {k: v for k, v in response["form-messages"]["data"].items()
                        if v and k.endswith("-error")}
            rows = [m for k, v in response.items() if k.startswith("{") for m in v.get("children", []) or []
                    if isinstance(m, str) and m and "error" in k]
            assert messages or rows, (case, values, said[:800])
        else:
            accepted += 1
            assert spec_mod.recheck(config, None) == config, (case, values)     # the server agrees
    assert refused > FORM_CASES // 3 and accepted > 0, (refused, accepted)


# -- CSV uploads --------------------------------------------------------------------------------------
def csv_bytes(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    n_rows, n_cols = rng.randint(0, 60), rng.randint(1, 6)
    sep = rng.choice([",", ";", "\t", "|", " "])
    header = sep.join(rng.choice(["a", "b", "label", "x y", '"q"', "数", ""]) + str(i) for i in range(n_cols))
    if kind in (5, 6, 7):                                                              # a clean file
        n_rows, n_cols = rng.randint(12, 60), max(2, n_cols)
        header = sep.join(f"c{i}" for i in range(n_cols))
    rows = []
    for _ in range(n_rows):
        if kind in (5, 6, 7):
            rows.append(sep.join([*(f"{rng.uniform(-5, 5):.4f}" for _ in range(n_cols - 1)), str(rng.randint(0, 2))]))
            continue
        cells = [rng.choice([str(rng.uniform(-5, 5)), str(rng.randint(0, 3)), "", "NaN", "inf", "abc", "1,5",
                             "1.000,25", '"7"', "1e999"]) for _ in range(n_cols + rng.choice([0, 0, 0, 1, -1]))]
        rows.append(sep.join(cells))
    end = rng.choice(["\n", "\r\n", "\r"])
    text = end.join([header] + rows) + end
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))          # not text at all
    if kind == 1:
        return text.encode("utf-16")
    if kind == 2:
        return ("\ufeff" + text).encode("utf-8")
    if kind == 3:
        return text.encode("utf-8")[: rng.randint(0, len(text))]                     # cut short
    if kind == 4:
        return (header + end + ("x" * 150_000) + sep + "1" + end).encode()           # a field over 128 KB
    return text.encode("utf-8")


def test_csv_uploads_are_answered_with_facts_or_a_reason(site):
    rng = random.Random(SEED + 1)
    cb = site.callback("ctl-csv-upload", "contents")
    reasons = 0
    for case in range(CSV_CASES):
        data = csv_bytes(rng)
        contents = "data:text/csv;base64," + base64.b64encode(data).decode()
        values = {("ctl-csv-upload", "contents"): contents, ("ctl-csv-upload", "filename"): f"f{case}.csv",
                  ("session-id", "data"): SESSION}
        status, answer = site.call(cb, values, ["ctl-csv-upload.contents"])
        assert status == 200, (case, data[:200], status, answer)
        _no_alert(answer)
        meta = answer["response"]["csv-meta"]["data"]
        if meta.get("error"):
            reasons += 1
            assert len(meta["error"]) > 15, (case, meta)
        else:
            assert meta["n_features"] >= 1 and meta["task"] in ("classification", "regression"), (case, meta)
    assert 0 < reasons < CSV_CASES


# -- model uploads ------------------------------------------------------------------------------------
def model_bytes(rng: random.Random, good: bytes) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 5000)))
    if kind == 1:                                                        # flipped bytes in a real file
        b = bytearray(good)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        return bytes(b)
    if kind == 2:
        return good[: rng.randint(0, len(good))]
    buffer = io.BytesIO()
    with zipfile.ZipFile(good and io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as out:
        for item in source.infolist():
            raw = source.read(item.filename)
            if kind == 3 and item.filename.endswith(".json") or item.filename == "meta.npy":
                raw = raw.replace(b"8", str(rng.choice([0, -1, 10**12, "NaN"])).encode(), 1)
            if kind == 4 and rng.random() < 0.5:
                continue                                                 # a member missing
            name = item.filename if kind != 5 else rng.choice([item.filename, "../" + item.filename, "x.npy"])
            out.writestr(name, raw)
        if kind == 5:
            out.writestr("extra.npy", np.zeros(3).tobytes())
    return buffer.getvalue()


def test_model_uploads_are_answered_with_a_model_or_a_reason(site, tmp_path):
    from dashboard import presets

    model = spec_mod.build_model(spec_mod.check(presets.preset_form("dense"), None).spec)
    good = io.BytesIO()
    model.save(good)
    rng = random.Random(SEED + 2)
    cb = site.callback("model-load", "contents")
    for case in range(MODEL_CASES):
        data = model_bytes(rng, good.getvalue())
        values = {("model-load", "contents"): "data:application/octet-stream;base64," + base64.b64encode(data).decode(),
                  ("model-load", "filename"): f"m{case}.npz", ("session-id", "data"): SESSION}
        status, answer = site.call(cb, values, ["model-load.contents"])
        assert status == 200, (case, status, answer)
        _no_alert(answer)
        message = json.dumps(answer["response"].get("model-message", {}))
        assert len(message) > 20, (case, message)
