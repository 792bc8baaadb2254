"""One module per panel of the page: its layout (``layout()``) and its callbacks,
registered at import. Figures come from ``viz``; data from ``dashboard.store``."""
