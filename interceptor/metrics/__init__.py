"""Prometheus metrics and the status endpoint of a running interceptor."""
