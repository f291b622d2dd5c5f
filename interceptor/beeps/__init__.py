"""The beep: due attempts decided by the policy, rung at B through the SIP emitter, and
each outcome written back to the attempt's row."""
