"""Isolation reruns: a persistent FIFO queue, an idle-node preflight, the runner subprocess, the report."""
