"""Hash chains, checkpoints and verification: pure functions over events, no Flask."""
