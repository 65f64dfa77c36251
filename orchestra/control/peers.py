"""Who is at the other end of a Unix stream socket: the peer's uid, as each platform tells it.

- Linux: `SO_PEERCRED` gives `struct ucred` {pid, uid, gid}.
- OpenBSD: `SO_PEERCRED` too, but `struct sockpeercred` is {uid, gid, pid}.
- macOS, FreeBSD, DragonFly: `LOCAL_PEERCRED` (level 0, option 1) gives `struct xucred`
  {cr_version, cr_uid, cr_ngroups, cr_groups[16]} (what `getpeereid(3)` reads).
- NetBSD: `LOCAL_PEEREID` (level 0, option 3) gives `struct unpcbid` {pid, euid, egid}.
Elsewhere the peer is unknown (`PEERS_CHECKED` False): the socket's 0600 mode in a 0700
folder is then the only check, as docs/CONTROL.md says.
"""

from __future__ import annotations

import socket
import struct
import sys

_THREE_INTS = struct.Struct("3i")
_XUCRED_HEAD = struct.Struct("2I")
_XUCRED_SIZE = 76
SOL_LOCAL, LOCAL_PEERCRED, LOCAL_PEEREID = 0, 1, 3

_PLATFORM = sys.platform
_LINUX_LIKE = hasattr(socket, "SO_PEERCRED") and not _PLATFORM.startswith("openbsd")
_XUCRED_PLATFORM = _PLATFORM == "darwin" or _PLATFORM.startswith(("freebsd", "dragonfly"))
PEERS_CHECKED = (hasattr(socket, "SO_PEERCRED") or _XUCRED_PLATFORM
                 or _PLATFORM.startswith("netbsd"))


def peer_uid(sock: socket.socket) -> int | None:
    """The peer's effective uid; None where the platform cannot tell (or the call fails)."""
    try:
        if _LINUX_LIKE:
            return int(_THREE_INTS.unpack(sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, _THREE_INTS.size))[1])
        if hasattr(socket, "SO_PEERCRED"):   # OpenBSD
            return int(_THREE_INTS.unpack(sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, _THREE_INTS.size))[0])
        if _XUCRED_PLATFORM:
            raw = sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, _XUCRED_SIZE)
            return int(_XUCRED_HEAD.unpack_from(raw)[1])
        if _PLATFORM.startswith("netbsd"):
            raw = sock.getsockopt(SOL_LOCAL, LOCAL_PEEREID, _THREE_INTS.size)
            return int(_THREE_INTS.unpack(raw)[1])
    except OSError:
        return None
    return None
