"""Sweep summaries and the scheduled red report: noticing a finished sweep, composing, posting once."""
