"""Public stewardship: the figures of each brand's public page, computed from the chain and the anchored log."""
