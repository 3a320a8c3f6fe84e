"""Reading cc-ci's files. This package knows cc-ci's layout and nothing else."""
