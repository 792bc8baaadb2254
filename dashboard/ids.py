"""Component ids shared between panels (each panel keeps its private ids to itself)."""

# dcc.Store (storage_type="session"): this browser tab's session id (a uuid4 hex string).
SESSION = "session-id"
# dcc.Store: {"session": <id>, "version": <int>} - bumped whenever a newer model
# snapshot for this tab is in the run cache (dashboard.store.snapshot_for); every
# panel redraws from it.
SNAPSHOT_VERSION = "snapshot-version"
# dcc.Store: the index of the layer the user chose in the architecture graph (None:
# no choice yet); the kernel, feature-map, hidden-state and histogram panels follow it.
SELECTED_LAYER = "selected-layer"
# dcc.Store: the step of the run the panels are scrubbed back to (the Step slider of the
# "Over time" panel): {"session", "index", "step", "frame": the kept frame's serial}, or
# None to follow the run live. The histograms and the network graph draw that frame.
STEP = "timeline-step"
# dcc.Store: the sample the network graph traces (dashboard.panels.trace): {"session",
# "split", "index", "mode"}, or None for the graph of weights.
TRACE = "trace-choice"
# The panels that redraw from the snapshot, each with a version store of its own: the
# browser copies SNAPSHOT_VERSION into the stores of the panels on screen, and into a
# panel's store when it comes into view (assets/visibility.js). A panel out of view
# costs nothing while a run trains.
PANELS = ("charts", "architecture", "regions", "network", "trace", "conv", "sequences", "histograms", "activations",
          "timeline", "health", "evaluation")


def panel_version(panel: str) -> str:
    """dcc.Store: the snapshot version panel ``panel`` draws (``{"session", "version"}``)."""
    return f"version-{panel}"
