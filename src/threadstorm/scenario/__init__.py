"""Scenario model, JSON codec and the meaning of "simpler" (standard library only)."""
