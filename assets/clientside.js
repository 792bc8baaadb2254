/* The dashboard's clientside callbacks, bound from Python with
 * ClientsideFunction("backprop", <name>). Each runs in the browser with no server
 * round trip; values that did not change are not sent again (every output set costs
 * Dash's renderer a pass over the page's components).
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    backprop: (function () {
        const NU = () => window.dash_clientside.no_update;

        // Remember what was last shown; give back only what changed.
        function differ() {
            const last = {};
            return function (key, value) {
                const text = JSON.stringify(value);
                if (last[key] === text) { return NU(); }
                last[key] = text;
                return value;
            };
        }
        const statusShown = differ();
        const pauseShown = differ();
        let runOn = false;      // whether the last live state was a run on (training or halted)
        const STALE_MS = 3000;      // dashboard/panels/training.py STALE_MS
        const formShown = {};

        return {
            // app.py: the tab's session id, made on first load and kept in sessionStorage; a new
            // one when the kept id is another live tab's (a tab opened from it: assets/tabs.js).
            session: function (ts, current) {
                const tabs = window.backpropTabs;
                if (current && /^[0-9a-f]{32}$/.test(current) && !(tabs && tabs.heldElsewhere(current))) {
                    if (tabs) { tabs.hold(current); }
                    return NU();
                }
                const bytes = new Uint8Array(16);
                window.crypto.getRandomValues(bytes);
                bytes[6] = (bytes[6] & 0x0f) | 0x40;
                bytes[8] = (bytes[8] & 0x3f) | 0x80;
                const id = Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
                if (tabs) { tabs.hold(id); }
                return id;
            },

            // panels/form.py: the messages beside the fields, {component id: text}. Only the
            // ones that changed are written (typically one of about a hundred).
            formMessages: function (messages) {
                for (const [id, text] of Object.entries(messages || {})) {
                    if (formShown[id] !== text) {
                        formShown[id] = text;
                        window.dash_clientside.set_props(id, {children: text});
                    }
                }
                return NU();
            },

            // app.py: a new snapshot version goes to the panels on screen (assets/visibility.js).
            deliver: function (version) {
                window.backpropPanels.deliver(version);
                return NU();
            },

            // panels/training.py: Train needs a valid spec.
            trainDisabled: function (spec) { return !spec; },

            // panels/training.py, panels/experiments.py: a button press with the form's config
            // ({n: clicks, config}). The config is an Input so that a press waits for the check
            // of a value typed just before it; a change of the config alone gives nothing.
            pressed: function (n, config) {
                const ctx = window.dash_clientside.callback_context;
                const clicked = (ctx.triggered || []).some(t => /\.n_clicks$/.test(t.prop_id));
                return (clicked && n) ? {n: n, config: config || null} : NU();
            },

            // panels/training.py: the run's snapshot versions reach the panels through the
            // gate of assets/refresh.js; the run's last one (done, stopped, failed) at once.
            gate: function (latest, current, live) {
                return window.backpropRefresh.gate(latest, current, !live || live.state !== "running" || !!live.paused);
            },

            // panels/training.py: the status line, the bars and the metrics, the Pause buttons,
            // then the control note, cleared when the run ends ("Paused.", "Resumed." and
            // "Trained batch 4" speak of a run that is over; a note given with no run on stays).
            progress: function (live) {
                const b = window.dash_clientside.backprop;
                const wasOn = runOn;
                runOn = !!(live && live.state === "running");
                return b.status(live).concat(b.pauseLabel(live), [(wasOn && !runOn) ? "" : NU()]);
            },

            // progress: progress bars, the status line and the validation metrics.
            status: function (live) {
                window.backpropLiveSeen = Date.now();
                if (!live) { return [NU(), NU(), NU(), NU(), NU(), NU(), NU(), NU()]; }
                const changed = statusShown;
                const state = live.state || "idle";
                const epoch = live.epoch || 0, epochs = live.epochs || 0;
                const batch = live.batch || 0, batches = live.batches || 0;
                const paused = state === "running" && !!live.paused;
                const running = state === "running" && !paused;
                const pct = (part, whole) => whole ? (100 * Math.min(Math.max(part / whole, 0), 1)).toFixed(1) + "%" : "0%";
                let message = live.message || "";
                if (running && epochs) {
                    const speed = Math.round(live.samples_per_s || 0).toLocaleString("en-US");
                    message += " · epoch " + epoch + " of " + epochs + " · " + speed + " samples/s";
                }
                const inEpoch = (running || paused) && batches && batch !== batches;
                const overall = (inEpoch ? Math.max(epoch - 1, 0) + batch / batches : epoch);
                const m = live.metrics;
                const metrics = (m && m.n) ? ("Validation (" + m.n.toLocaleString("en-US") + " samples): accuracy " +
                    (100 * m.accuracy).toFixed(2) + "%, macro F1 " + m.macro_f1.toFixed(4)) : (running ? null : "");
                return [changed("status", message), changed("class", "status status-" + (paused ? "paused" : state)),
                        changed("epochBar", {width: pct(overall, epochs)}),
                        changed("epochText", epochs ? epoch + " / " + epochs : ""),
                        changed("batchBar", {width: pct(batch, batches)}),
                        changed("batchText", batches ? batch + " / " + batches : ""),
                        (running || paused) ? NU() : "", metrics === null ? NU() : changed("metrics", metrics)];
            },

            // panels/training.py: a running run whose progress stopped arriving for STALE_MS
            // (a lost poll ends the renderer's polling for good) is re-read from the run cache.
            watch: function (n, live) {
                const seen = window.backpropLiveSeen || Date.now();
                // (a halted run publishes nothing: it is asked too, and the server answers only when its job is gone)
                return (live && live.state === "running" && Date.now() - seen > STALE_MS) ? Date.now() : NU();
            },

            // panels/training.py: Step with no run on: press Train (the run halts after one batch).
            pressTrain: function (asked) {
                const button = document.getElementById("train-button");
                if (asked && button && !button.disabled) { button.click(); }
                return NU();
            },

            // progress: the Pause button reads Resume while the run is halted; both Pause
            // buttons are enabled only while a run is on.
            pauseLabel: function (live) {
                const on = !!(live && live.state === "running");
                const paused = on && !!live.paused;
                const label = paused ? "Resume" : "Pause";
                return [pauseShown("label", label), pauseShown("class", paused ? "btn btn-primary" : "btn btn-ghost"),
                        pauseShown("graphLabel", label), pauseShown("graphDisabled", !on), pauseShown("disabled", !on)];
            },

            // panels/network.py: assets/graph.js toggles an edge's label in Cytoscape's own tap
            // listener (and writes the readout at once); this mirrors the result into a store
            // and the readout's children through Dash.
            edgeReadout: function (tap) {
                if (!tap || !tap.id || !window.backpropGraph) { return [NU(), NU()]; }
                return [window.backpropGraph.labelled(), window.backpropGraph.readoutText(tap)];
            },

            // panels/architecture.py: a tap on a layer chooses it; on the input node, clears the choice.
            chooseLayer: function (tap) {
                if (!tap) { return NU(); }
                return (tap.layer_index === undefined) ? null : tap.layer_index;
            },
        };
    })(),
});
