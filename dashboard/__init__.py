"""One module per dashboard panel: its layout, its callbacks and pure figure builders."""
