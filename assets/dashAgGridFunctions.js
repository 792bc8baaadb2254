/* Cell formats of the Experiments runs table (dashboard/panels/experiments.py). */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

// 4 significant digits, trailing zeros dropped: 0.8667, 0.0123, 1.5e-05; empty for none.
dagfuncs.significant = function (value, digits) {
    if (value === null || value === undefined || value === "") { return ""; }
    var x = Number(value);
    return isFinite(x) ? String(Number(x.toPrecision(digits || 4))) : String(value);
};

// "2026-12-02 00:50:33" from an ISO timestamp in UTC.
dagfuncs.timestamp = function (value) {
    return value ? String(value).slice(0, 19).replace("T", " ") : "";
};
