/* Each browser tab its own session, even when it was opened from another.
 *
 * The tab's session id lives in sessionStorage (app.py's SESSION store), which a browser
 * copies into a tab opened from it (Chrome's "Duplicate tab", window.open): both tabs
 * would then share one run, one model and one Stop. So a tab holding a session says so
 * in localStorage every HOLD_MS; a newly loaded tab whose copied id is held by another
 * live tab takes a new id. A reload is the same tab: it keeps its id (and its run).
 *
 *   backpropTabs.heldElsewhere(id)   true when another live tab holds this session id
 *   backpropTabs.hold(id)            this tab holds it from now on
 */
window.backpropTabs = (function () {
    const HOLD_MS = 1000;
    const FRESH_MS = 3500;          // a hold not renewed for this long is a closed tab's
    const PREFIX = "bps-session-holder:";
    const tab = Math.random().toString(16).slice(2) + Date.now().toString(16);
    let held = null;
    let timer = null;

    function reloaded() {
        const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
        return !!nav && nav.type === "reload";
    }

    function read(id) {
        try { return JSON.parse(localStorage.getItem(PREFIX + id) || "null"); } catch (e) { return null; }
    }

    function write() {
        if (!held) { return; }
        try { localStorage.setItem(PREFIX + held, JSON.stringify({tab: tab, at: Date.now()})); } catch (e) { /* full */ }
    }

    function heldElsewhere(id) {
        if (reloaded()) { return false; }
        const holder = read(id);
        return !!holder && holder.tab !== tab && Date.now() - holder.at < FRESH_MS;
    }

    function hold(id) {
        if (held === id) { return; }
        if (held) { try { localStorage.removeItem(PREFIX + held); } catch (e) { /* ignore */ } }
        held = id;
        write();
        if (!timer) { timer = setInterval(write, HOLD_MS); }
    }

    window.addEventListener("pagehide", function () {
        const holder = held ? read(held) : null;
        if (holder && holder.tab === tab) { try { localStorage.removeItem(PREFIX + held); } catch (e) { /* ignore */ } }
    });

    return {heldElsewhere: heldElsewhere, hold: hold};
})();
