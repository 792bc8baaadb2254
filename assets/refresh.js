/* The pace of the live panels (dashboard/panels/training.py).
 *
 * A training run sends a new snapshot version every PUBLISH_S; every version redraws the
 * charts, the network graph, the histograms and the other panels, which costs the browser
 * (and the server) far more than the job's update. The run's versions land in the store
 * "snapshot-latest"; this gate forwards the newest one to the store "snapshot-version"
 * (dashboard.ids.SNAPSHOT_VERSION), which the panels listen to,
 *
 * - at most every max(MIN_MS, COST_FACTOR x the main-thread time the last redraw took):
 *   a slow or busy browser gets fewer versions, never stale ones;
 * - not while the user is acting on the page (for up to HOLD_MAX_MS), so that the user's
 *   own callbacks do not queue behind a redraw.
 *
 * A version held back is forwarded by a timer when its time comes (one timer, no polling).
 *
 *   backpropRefresh.gate(latest, current, final)   the clientside callback: the version to forward
 *                                                  now (a run's final version goes at once)
 *   backpropRefresh.stats()                 {forwarded, held, lastCostMs, waitMs}
 */
window.backpropRefresh = (function () {
    const TARGET = "snapshot-version";
    // Once a second at most: the job publishes twice a second, but each version redraws every
    // panel on screen, and the browser shares the machine's cores with the training job (the
    // progress bars and the status line still follow every version of the live state).
    const MIN_MS = 1000;
    const MAX_MS = 4000;       // however slow the browser, a version at least this often
    const COST_FACTOR = 4;     // redraws take at most about a quarter of the main thread
    const QUIET_MS = 350;      // the user acted less than this ago: hold the refresh...
    const HOLD_MAX_MS = 1500;  // ...but not for longer than this past its time

    let busy = 0;              // main-thread long-task time since the last forward (ms)
    let lastCost = 0;
    let lastForward = -Infinity;
    let lastInput = -Infinity;
    let newest = null;         // the newest version not forwarded yet
    let timer = null;
    let forwarded = 0;
    let held = 0;

    try {
        new PerformanceObserver(function (list) {
            for (const entry of list.getEntries()) { busy += entry.duration; }
        }).observe({type: "longtask"});
    } catch (e) { /* no Long Tasks API: the pace is MIN_MS */ }
    for (const type of ["pointerdown", "keydown", "wheel"]) {
        document.addEventListener(type, function () { lastInput = performance.now(); },
                                  {capture: true, passive: true});
    }

    function waitMs() {
        return Math.min(Math.max(MIN_MS, COST_FACTOR * lastCost), MAX_MS);
    }

    // How long the newest version must still wait (<= 0: forward it now).
    function delay(now) {
        const due = lastForward + waitMs();
        let d = due - now;
        if (now - lastInput < QUIET_MS && now < due + HOLD_MAX_MS) {
            d = Math.max(d, Math.min(lastInput + QUIET_MS, due + HOLD_MAX_MS) - now);
        }
        return d;
    }

    function take() {
        const v = newest;
        newest = null;
        lastCost = busy;
        busy = 0;
        lastForward = performance.now();
        forwarded += 1;
        return v;
    }

    function fire() {
        timer = null;
        if (!newest) { return; }
        const d = delay(performance.now());
        if (d > 0) { timer = setTimeout(fire, d); return; }
        window.dash_clientside.set_props(TARGET, {data: take()});
    }

    function same(a, b) {
        return !!a && !!b && a.session === b.session && a.version === b.version;
    }

    function gate(latest, current, final) {
        const NU = window.dash_clientside.no_update;
        if (!latest || same(latest, current)) { return NU; }
        newest = latest;
        const d = final ? 0 : delay(performance.now());
        if (d <= 0) {
            if (timer) { clearTimeout(timer); timer = null; }
            return take();
        }
        held += 1;
        if (!timer) { timer = setTimeout(fire, d); }
        return NU;
    }

    function stats() {
        return {forwarded: forwarded, held: held, lastCostMs: lastCost, waitMs: waitMs()};
    }

    return {gate: gate, stats: stats};
})();
