/* Files the upload boxes would drop in silence: too large for the box, or of a kind it does
 * not take (dcc.Upload ignores both without a word, and a dropped file skips the file
 * picker's filter). Each is named in the box's message line instead, with the rule.
 *
 *   UPLOADS[upload id] = {message: id of the element that says why, limit: bytes (the
 *                         component's max_size), suffixes: the names it takes, what: noun}
 */
(function () {
    const MB = 1000 * 1000;
    const UPLOADS = {
        "ctl-csv-upload": {message: "ctl-csv-filename", limit: 20 * MB, suffixes: [".csv"], what: "a CSV file (.csv)"},
        "model-load": {message: "model-message", limit: 100 * MB, suffixes: [".npz"],
                       what: "a Backprop Studio model file (.npz, from Save model)"},
        "keras-load": {message: "model-message", limit: 100 * MB, suffixes: [".weights.h5", ".keras"],
                       what: "Keras weights (.weights.h5 from model.save_weights, or .keras from model.save)"},
    };

    function size(bytes) {
        return bytes >= MB ? (bytes / MB).toFixed(1) + " MB" : Math.round(bytes / 1000) + " kB";
    }

    // Why the box will not take this file, or null when it will.
    function refusal(rule, file) {
        const name = file.name || "the file";
        const lower = name.toLowerCase();
        if (!rule.suffixes.some(s => lower.endsWith(s))) {
            const hint = lower.endsWith(".gz") || lower.endsWith(".zip") ? " Unpack it first." : "";
            return "Could not take " + name + ": this box takes " + rule.what + "." + hint;
        }
        if (file.size > rule.limit) {
            return "Could not take " + name + ": it has " + size(file.size) + ", more than the " +
                size(rule.limit) + " this box takes.";
        }
        return null;
    }

    function check(uploadId, files) {
        const rule = UPLOADS[uploadId];
        if (!rule || !files || !files.length || !window.dash_clientside) { return; }
        const why = refusal(rule, files[0]);
        if (why) { window.dash_clientside.set_props(rule.message, {children: why}); }
    }

    function uploadOf(target) {
        const box = target && target.closest ? target.closest("[id]") : null;
        let el = box;
        while (el && !UPLOADS[el.id]) { el = el.parentElement ? el.parentElement.closest("[id]") : null; }
        return el ? el.id : null;
    }

    document.addEventListener("change", function (event) {
        const input = event.target;
        if (input && input.type === "file") { check(uploadOf(input), input.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        const id = uploadOf(event.target);
        if (id && event.dataTransfer) { check(id, event.dataTransfer.files); }
    }, true);

    window.backpropUploads = {refusal: function (uploadId, name, bytes) {
        return UPLOADS[uploadId] ? refusal(UPLOADS[uploadId], {name: name, size: bytes}) : null;
    }};
})();
