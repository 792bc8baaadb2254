"""The dashboard: the model spec (``spec``), a run's data (``data``), the training job
(``jobs``), the run cache (``store``), presets, and the panels (``panels``), one module
each with its layout and callbacks. ``docs/architecture.md`` maps how they meet."""
