"""Plumbing every stage shares: errors and the command wrapper, atomic files, forked calls,
stage timing, video containers and the per-second timeline's facts."""
