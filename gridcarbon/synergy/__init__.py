"""Pollution–carbon synergy analytics on top of gridcarbon's grids, posterior and zone tallies."""
