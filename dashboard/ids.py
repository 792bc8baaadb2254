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
# dcc.Store: names of the panels on screen (assets/visibility.js; None: all of them). A
# panel out of view skips a run's refreshes and redraws when it comes into view.
VISIBLE_PANELS = "visible-panels"
