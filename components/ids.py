"""Component ids shared between panels (each panel keeps its private ids to itself)."""

# dcc.Store (storage_type="session"): this browser tab's session id (a uuid4 hex string).
SESSION = "session-id"
# dcc.Store: {"session": <id>, "version": <int>} - bumped whenever a newer model
# snapshot for this tab is in the run cache (components.runs.get_snapshot).
SNAPSHOT_VERSION = "snapshot-version"
