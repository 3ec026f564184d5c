"""Classical baselines that give each restoration number its context (no learning)."""
