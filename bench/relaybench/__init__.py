"""Relay benchmark: a C load generator and OCS stub around a Diameter relay under test."""
