"""The policy: blacklists aside, every rule that decides whether an attempt is beeped
(thresholds, counters, quiet hours, circuit breakers), decided and counted in SQL."""
