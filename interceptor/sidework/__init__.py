"""Side work, in its own process: the relay hands over out-of-credit events and never
waits for SQL (or, later, SIP and SMPP).

``tap`` and ``channel`` run in the relay process; ``worker`` is the other process;
``events`` is the frame format between them.
"""
