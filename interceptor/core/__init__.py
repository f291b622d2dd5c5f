"""The ground floor: what every other package may use and that imports nothing of ours.

Reactor types and process tuning, the database thread-pool runner, the scan/batch loops
of SQL-driven senders, the token bucket, histogram buckets, the domain vocabulary, the
Diameter wire constants, and the configuration toolkit.
"""
