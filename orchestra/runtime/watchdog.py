"""The lifeline's watchdog, as the `/bin/sh` script it runs (started by `spawn.spawn_watchdog`,
fed by `runtime/lifeline.py`). Kept apart from `spawn` only for length: it is data, not code
that creates processes.
"""

# A watchdog that outlives orchestra only long enough to kill what orchestra started. It reads
# "+PGID" / "-PGID" lines from a pipe whose only writer is orchestra; when orchestra dies (even
# by SIGKILL) the kernel closes that pipe, `read` sees EOF, and every group still listed gets
# SIGTERM, then SIGKILL if any is still there a second later (the watchdog exits as soon as
# they are all gone). "?INODE" comes before each service's spawn, naming its stdout pipe, and
# its "+PGID" after ("?PATH" instead names the pseudo-terminal of a `tty: true` service): if
# orchestra died in between, the processes holding that pipe (or terminal), at any fd
# (a child may not have made it its stdout yet), are the service: found with one `find`, only
# then, leaving out orchestra itself ($PPID), which may not have closed all its fds yet; where
# there is no /proc (macOS, the BSDs) that child is not found (docs/ARCHITECTURE.md).
# A "dPATH" line names the one folder to remove at EOF (the run's notify sockets); a bare "d"
# withdraws it. dash needs ~1 MB; no helper per service.
WATCHDOG_SCRIPT = r"""
trap '' INT HUP QUIT TSTP
groups=' '
pending=
found=
folder=
while IFS= read -r line; do
  case $line in
    +*) groups="$groups${line#+} "; pending= ;;
    -*) p=${line#-}
        case $groups in *" $p "*) groups="${groups%% $p *} ${groups#* $p }" ;; esac ;;
    \?*) pending=${line#?} ;;
    d*) folder=${line#d} ;;
  esac
done
if [ -n "$pending" ] && [ -d /proc/self/fd ]; then
  case $pending in /*) held=$pending ;; *) held="pipe:\[$pending\]" ;; esac
  for f in $(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "$held" \
             2>/dev/null); do
    p=${f#/proc/}; p=${p%%/*}
    [ "$p" = "$PPID" ] && continue
    kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; found="$found $p"
  done
fi
for p in $groups; do kill -TERM -"$p" 2>/dev/null; done
[ -n "$folder" ] && rm -rf -- "$folder"
[ "$groups$found" = ' ' ] && exit 0
for tick in 1 2 3 4 5 6 7 8 9 10; do
  alive=
  for p in $groups $found; do kill -0 -"$p" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && exit 0
  sleep 0.1
done
for p in $groups $found; do kill -KILL -"$p" 2>/dev/null; done
exit 0
"""
