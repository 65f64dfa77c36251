#!/bin/sh
# Run pytest as on a system without Linux's process extras: /proc hidden under a tmpfs in a
# private mount namespace, and os.pidfd_open, SO_PASSCRED, SO_PEERCRED... absent from Python
# (sitecustomize.py here). The tests themselves read the real process table from a copy of
# /proc mounted elsewhere (ORCHESTRA_TEST_PROC), so their leftover checks stay real.
# Needs root (unshare --mount). Usage: tests/portability/without_proc.sh [pytest args...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exec unshare --mount --fork /bin/sh -eu -c '
  here=$1; root=$2; shift 2
  mount --make-rprivate /
  realproc=$(mktemp -d /tmp/orchestra-realproc.XXXXXX)
  mount --bind /proc "$realproc"
  mount -t tmpfs -o mode=0555 none /proc
  cd "$root"
  ORCHESTRA_TEST_PROC=$realproc PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH} \
    .venv/bin/python -m pytest -p no:cacheprovider "$@"
' sh "$here" "$root" "$@"
