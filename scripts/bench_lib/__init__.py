"""Pieces of scripts/bench: seeding, workloads, load generators (wrk or Python), CPU accounting."""
