/* Which inspection panels are on screen.
 *
 * Every element with a data-panel attribute is watched with an IntersectionObserver; the
 * sorted names of those in view go to the store "visible-panels" (dashboard.ids.VISIBLE_PANELS)
 * whenever that set changes. A panel out of view skips the live refreshes of a run and
 * redraws from the newest snapshot when it comes into view: the browser spends its time
 * on what the user is looking at. Without IntersectionObserver the store stays empty
 * (null), which the panels read as "everything is in view".
 */
(function () {
    const STORE = "visible-panels";
    if (!("IntersectionObserver" in window)) { return; }
    const inView = new Map();           // element -> in view
    let timer = null;
    let last = null;

    function report() {
        timer = null;
        if (!window.dash_clientside || !window.dash_clientside.set_props) { timer = setTimeout(report, 200); return; }
        const names = [];
        for (const [el, visible] of inView) {
            if (!el.isConnected) { inView.delete(el); continue; }
            if (visible) { names.push(el.dataset.panel); }
        }
        names.sort();
        const key = names.join(",");
        if (key === last) { return; }
        last = key;
        window.dash_clientside.set_props(STORE, {data: names});
    }

    const observer = new IntersectionObserver(function (entries) {
        for (const entry of entries) { inView.set(entry.target, entry.isIntersecting); }
        if (!timer) { timer = setTimeout(report, 120); }
    }, {rootMargin: "0px"});

    // Panels mount after this script runs (and may remount): watch each new one.
    function scan() {
        document.querySelectorAll("[data-panel]").forEach(function (el) {
            if (!inView.has(el)) { inView.set(el, false); observer.observe(el); }
        });
    }
    setInterval(scan, 400);
})();
