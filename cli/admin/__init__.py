"""Operators' admin commands: ``beepcall blacklist|attempts|mnp|db|thresholds|policy|ads``.

Every command takes ``--database-url URL`` (else ``$BEEPCALL_DATABASE_URL``, else the
``database`` section of ``--config FILE``, else ``sqlite:///beepcall.db``) and ``--help``.
Errors are one line on stderr, the URL shown without its password. Exit codes: 0 ok,
1 bad input / not found / bad CSV rows, 2 usage error, 3 database unreachable or not
initialised.

Shell completion (click)::

    eval "$(_BEEPCALL_COMPLETE=bash_source beepcall)"     # bash, e.g. in ~/.bashrc
    eval "$(_BEEPCALL_COMPLETE=zsh_source beepcall)"      # zsh
    _BEEPCALL_COMPLETE=fish_source beepcall | source      # fish
"""

from cli.admin.ads import ads
from cli.admin.attempts import attempts
from cli.admin.blacklist import blacklist
from cli.admin.db import db
from cli.admin.mnp import mnp
from cli.admin.policy import policy
from cli.admin.thresholds import thresholds

ADMIN_GROUPS = (blacklist, attempts, mnp, db, thresholds, policy, ads)

__all__ = ["ADMIN_GROUPS", "ads", "attempts", "blacklist", "db", "mnp", "policy", "thresholds"]
