"""The process's open-files limit: raised to what the system allows, and shared out for the HTTP server.

systemd starts services with a soft ``RLIMIT_NOFILE`` of 1,024 and a much higher hard limit, on the
understanding that a program which needs more raises its own soft limit (the bot uses epoll, never
``select()``, so a high limit costs nothing). The HTTP server then keeps its connections well under
the limit, so the bot's own work — SQLite, the scan, Matrix, reruns' pipes — always finds a descriptor.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

# The listening socket's backlog, which is also how many connections asyncio accepts in one turn of the
# loop: a connection over the cap holds a descriptor for a turn or two before it is closed.
BACKLOG = 64
# Descriptors kept out of the HTTP server's reach: the bot's own work (store, scan, Matrix, reruns' pipes),
# plus connections accepted in one turn and closed in the next (over the cap) while the next are accepted.
FD_RESERVE = 128 + 3 * BACKLOG
MIN_CONNECTIONS = 8


def raise_open_files_limit() -> int:
    """Raise the soft limit to the hard one (standard practice for servers); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # a sandbox may forbid it: the lower limit still works
        log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)
        return soft
    return hard


def connection_cap(wanted: int) -> int:
    """``wanted`` connections, or fewer so that ``FD_RESERVE`` descriptors stay free for everything else."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(MIN_CONNECTIONS, soft - FD_RESERVE))
