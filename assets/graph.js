/* The network graph's browser side (dashboard/panels/network.py).
 *
 * Clicking an edge toggles the class "labelled" on it (viz.network.LABELLED_CLASS),
 * which shows its data(label): "w = ...\ndL/dw = ...". This runs in Cytoscape's own tap
 * listener, so the label appears on the next frame with no Dash round trip. The
 * labelled ids outlive graph refreshes: an edge that comes back gets its label again.
 *
 *   backpropGraph.cy()              the Cytoscape instance of the graph (or null)
 *   backpropGraph.labelled()        ids of the labelled edges, in clicking order
 *   backpropGraph.readoutText(tap)  the readout's JSON for a tapped edge's data (#edge-label-readout)
 *   backpropGraph.edgePoint(edgeId) page coordinates {x, y} where a mouse click hits that
 *                                   edge, or null when no such point is found (for tests)
 */
window.backpropGraph = (function () {
    const GRAPH_ID = "network-graph";
    const LABELLED_CLASS = "labelled";
    const READOUT_ID = "edge-label-readout";
    const labelled = new Set();

    function cy() {
        const el = document.getElementById(GRAPH_ID);
        return el && el._cyreg ? el._cyreg.cy : null;
    }

    function attach() {
        const c = cy();
        if (!c || c.scratch("_backpropGraph")) { return; }
        c.scratch("_backpropGraph", true);
        c.on("tap", "edge", function (event) {
            const edge = event.target;
            const id = edge.id();
            if (labelled.has(id)) {
                labelled.delete(id);
                edge.removeClass(LABELLED_CLASS);
            } else {
                labelled.add(id);
                edge.addClass(LABELLED_CLASS);
            }
            showReadout(edge);
        });
        // A refresh may add the edge again, or set its classes anew: the label stays.
        c.on("add class style", "edge", function (event) {
            const edge = event.target;
            if (labelled.has(edge.id()) && !edge.hasClass(LABELLED_CLASS)) { edge.addClass(LABELLED_CLASS); }
        });
    }

    // The readout of the edge just toggled, written at once: the clientside callback
    // edgeReadout (assets/clientside.js) writes the same text through Dash, which waits
    // its turn behind whatever else the page is doing while a run trains.
    function showReadout(edge) {
        const el = document.getElementById(READOUT_ID);
        if (!el) { return; }
        const d = edge.data();
        el.textContent = readoutText({id: d.id, label: d.label, w: d.w, dw: d.dw});
    }

    function readoutText(tap) {
        const ids = labelledIds();
        return JSON.stringify({id: tap.id, shown: ids.indexOf(tap.id) >= 0, label: tap.label, w: tap.w, dw: tap.dw,
                               labelled: ids});
    }

    // The graph mounts (and may remount) after this script runs: attach to each new instance.
    setInterval(attach, 250);

    function edgePoint(edgeId) {
        const c = cy();
        if (!c) { return null; }
        const edge = c.getElementById(edgeId);
        if (!edge || edge.empty()) { return null; }
        const box = document.getElementById(GRAPH_ID).getBoundingClientRect();
        const s = edge.source().renderedPosition();
        const t = edge.target().renderedPosition();
        const renderer = c.renderer();
        // Walk along the edge; keep the first point where Cytoscape's own hit test finds it.
        const fractions = [0.5];
        for (let d = 0.01; d < 0.45; d += 0.01) { fractions.push(0.5 - d, 0.5 + d); }
        const hits = function (x, y) {
            const model = renderer.projectIntoViewport(x, y);
            const hit = renderer.findNearestElement(model[0], model[1], true, false);
            return hit && hit.id() === edgeId;
        };
        // A point clear of crossing edges: the hit test finds this edge one pixel around it too.
        const around = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]];
        for (const f of fractions) {
            // Whole pixels: a real click lands on one.
            const x = Math.round(box.left + s.x + (t.x - s.x) * f);
            const y = Math.round(box.top + s.y + (t.y - s.y) * f);
            if (around.every(d => hits(x + d[0], y + d[1]))) {
                return {x: x, y: y};
            }
        }
        return null;
    }

    function labelledIds() {
        const c = cy();
        return Array.from(labelled).filter(id => !c || c.getElementById(id).nonempty());
    }

    return {cy: cy, labelled: labelledIds, edgePoint: edgePoint, readoutText: readoutText};
})();

/* The computation graph (dashboard/panels/trace.py) is shown and filled in one update:
 * Cytoscape fits a preset layout before its box has a size, so the graph is fitted again
 * once its new elements are in and the box is laid out. */
(function () {
    const GRAPH_ID = "compute-graph";
    let timer = null;
    function fitSoon(c) {
        if (timer) { clearTimeout(timer); }
        timer = setTimeout(function () {
            timer = null;
            requestAnimationFrame(function () { c.resize(); c.fit(c.elements(), 16); });
        }, 30);
    }
    setInterval(function () {
        const el = document.getElementById(GRAPH_ID);
        const c = el && el._cyreg ? el._cyreg.cy : null;
        if (!c || c.scratch("_backpropFit")) { return; }
        c.scratch("_backpropFit", true);
        c.on("add", function () { fitSoon(c); });
    }, 250);
})();
