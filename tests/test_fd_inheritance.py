"""A service, its children and its checks see only fds 0-2: nothing of orchestra's leaks into
them (the control socket, the notify sockets, the lifeline pipe, the other services' pipes)."""

from __future__ import annotations

from helpers.orch import PY, Project

#: Prints `FDS [...]`: the fds above 2 open in this process.
PROBE = """\
import json, os
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
print('FDS ' + json.dumps([fd for fd in range(3, 1024) if is_open(fd)]), flush=True)
"""
#: The same, then READY=1 on $NOTIFY_SOCKET (the notify socket itself is a path, not an fd).
NOTIFY = PROBE + """\
import socket
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])
"""
#: The probe as an exec check: it writes its finding to a file, since check output is dropped.
CHECK = PROBE.replace("print('FDS ' + json.dumps(", "found = repr((") \
    .replace(", flush=True)", ")") + "open('check.txt', 'w').write(found)\n"


def test_services_children_and_checks_inherit_only_the_standard_fds(project: Project) -> None:
    project.yaml({
        "web": {"command": [PY, "-c", PROBE]},
        # a grandchild: the shell's two children
        "shell": {"command": f"{PY} -c \"$PROBE\" && {PY} -c \"$PROBE\"",
                  "env": {"PROBE": PROBE}},
        "notified": {"command": [PY, "-c", NOTIFY], "readiness": {"notify": True}},
        "checked": {"command": [PY, "-c", "import time; time.sleep(1)"],
                    "readiness": {"exec": [PY, "-c", CHECK], "interval": "50ms"}},
    })
    result = project.run("--no-timestamps", "--no-color", timeout=30)
    assert result.rc == 0, result.dump()
    for name, count in (("web", 1), ("shell", 2), ("notified", 1)):
        assert result.of(name) == ["FDS []"] * count, (name, result.dump())
    assert (project.root / "check.txt").read_text() == "[]"
