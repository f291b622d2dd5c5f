"""The ``beepcall`` command line."""
