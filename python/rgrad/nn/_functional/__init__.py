"""Implementation modules of ``rgrad.nn.functional`` (import that module, not these)."""
