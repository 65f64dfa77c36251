"""Make this Python look like one of a platform without Linux's process and socket extras.

Put on PYTHONPATH by `without_proc.sh`: every Python started in that run (pytest, orchestra,
the services written in Python) loses the names below at start-up, as on macOS or a BSD, so
the code paths taken there run here. Nothing else is changed.
"""

import os
import signal
import socket

for module, names in ((os, ("pidfd_open", "P_PIDFD")),
                      (socket, ("SO_PASSCRED", "SO_PEERCRED", "SCM_CREDENTIALS",
                                "SOCK_CLOEXEC", "SOCK_NONBLOCK", "MSG_CMSG_CLOEXEC")),
                      (signal, ("SIGRTMIN", "SIGRTMAX"))):
    for name in names:
        if hasattr(module, name):
            delattr(module, name)
