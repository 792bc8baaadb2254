/* The snapshot versions reach the panels on screen, and only them.
 *
 * Every element with a data-panel attribute (dashboard.ids.PANELS) is watched with an
 * IntersectionObserver. When the page's newest version (the store "snapshot-version",
 * written by the refresh gate during a run, by the server on Reset or Load) changes, it
 * is copied into the store "version-<panel>" of each panel on screen; a panel out of
 * view gets it when it comes into view. A panel's callbacks listen to its own store, so
 * a panel nobody looks at costs neither the browser nor the server anything while a
 * run trains. Until the observer has spoken every panel counts as on screen.
 *
 *   backpropPanels.deliver(version)   called by the clientside callback on "snapshot-version"
 *   backpropPanels.onScreen()         names of the panels on screen
 */
window.backpropPanels = (function () {
    const inView = new Map();          // panel name -> on screen (absent: not known yet)
    const delivered = new Map();       // panel name -> JSON of the version it was given
    let newest = null;

    function onScreen(name) {
        return !inView.has(name) || inView.get(name);
    }

    function hand(name) {
        if (!newest || !onScreen(name)) { return; }
        const key = JSON.stringify(newest);
        if (delivered.get(name) === key) { return; }
        delivered.set(name, key);
        window.dash_clientside.set_props("version-" + name, {data: newest});
    }

    function names() {
        return Array.from(document.querySelectorAll("[data-panel]"), el => el.dataset.panel);
    }

    function deliver(version) {
        newest = version;
        names().forEach(hand);
    }

    if ("IntersectionObserver" in window) {
        const observer = new IntersectionObserver(function (entries) {
            for (const entry of entries) {
                const name = entry.target.dataset.panel;
                inView.set(name, entry.isIntersecting);
                if (entry.isIntersecting) { hand(name); }
            }
        });
        const watched = new WeakSet();
        // Panels mount after this script runs (and may remount): watch each new one.
        setInterval(function () {
            document.querySelectorAll("[data-panel]").forEach(function (el) {
                if (!watched.has(el)) { watched.add(el); observer.observe(el); }
            });
        }, 300);
    }

    return {deliver: deliver, onScreen: () => names().filter(onScreen)};
})();
