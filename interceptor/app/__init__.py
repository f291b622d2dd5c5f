"""The two processes' roots: the relay process (Diameter agent, tap, metrics, the pipe to
the side work) and the side-work process's ``main``."""
