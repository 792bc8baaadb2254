/* Helpers for the network graph (components/network_graph.py), used by browser tests.
 *
 *   backpropGraph.cy()              the Cytoscape instance of the graph (or null)
 *   backpropGraph.edgePoint(edgeId) page coordinates {x, y} where a mouse click hits that
 *                                   edge and no other element, or null when none is found
 */
window.backpropGraph = (function () {
    const GRAPH_ID = "network-graph";

    function cy() {
        const el = document.getElementById(GRAPH_ID);
        return el && el._cyreg ? el._cyreg.cy : null;
    }

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
        for (const f of [0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75, 0.2, 0.8, 0.35, 0.65, 0.45, 0.55]) {
            const x = box.left + s.x + (t.x - s.x) * f;
            const y = box.top + s.y + (t.y - s.y) * f;
            const model = renderer.projectIntoViewport(x, y);
            const hit = renderer.findNearestElement(model[0], model[1], true, false);
            if (hit && hit.id() === edgeId) {
                return {x: x, y: y};
            }
        }
        return null;
    }

    return {cy: cy, edgePoint: edgePoint};
})();
