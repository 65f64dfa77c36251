"""The options of `up`, `start` and `run`, as plain data: one table, two parsers.

`orchestra up` must start fast in a fresh checkout, so the command line of the commands that
run services is read by a small parser (`cli/quick.py`) that never imports the CLI framework.
The typer signatures (`cli/commands.py`) are built from the same table, so a flag's names,
kind and help are written once. Whatever the quick parser does not recognise (`--help`, a
misspelt option, a value that is not a number) goes to typer, which reports it as it always has.
"""

# Annotations are evaluated here, not kept as strings: see orchestra/records.py.

from typing import Literal, NamedTuple

Kind = Literal["flag", "text", "int", "float", "path"]


class Flag(NamedTuple):
    """One option: the attribute it sets, its spellings, what it takes, its help.

    A NamedTuple, not a frozen dataclass: this module is on the way to every `up`, and a
    dataclass costs ~0.5 ms to create (see runtime/events.py); nothing compares flags."""

    dest: str
    names: tuple[str, ...]
    kind: Kind
    help: str
    envvar: str | None = None
    multiple: bool = False      # may be given again: every value is kept, in order
    #: A comma-separated list that may also be given again (`-c web=2 -c worker=3`): the
    #: values are joined with commas, as if written in one, so that none is silently dropped.
    joined: bool = False


FILE = Flag("file", ("-f", "--file", "--procfile"), "path",
            "Config file: orchestra.yaml/.yml, or a Procfile. Repeat it to layer YAML files: "
            "later ones are merged over earlier ones. Default: orchestra.yaml, orchestra.yml "
            "(with orchestra.override.yaml or .yml beside it, if present), else Procfile "
            "($PROCFILE names another) in the current directory.",
            envvar="ORCHESTRA_FILE", multiple=True)
ENV = Flag("env", ("-e", "--env-file", "--env"), "text",
           "Comma-separated .env files (later ones win), replacing the default .env beside "
           "the config file. Repeatable. An empty name (-e '') is an error.", joined=True)
APP_ROOT = Flag("app_root", ("-d", "--app-root", "--root"), "path",
                "Directory services run in (foreman's --root); relative -f and -e paths, the "
                "default Procfile/orchestra.yaml and .env are found there.")
PORT = Flag("port", ("-p", "--port"), "int",
            "Base port: PORT = base + 100 × service index + instance − 1 "
            "(default for a Procfile: $PORT, else 5000).")
TIMEOUT = Flag("timeout", ("-t", "--timeout"), "float",
               "Seconds between the stop signal and SIGKILL (overrides every service's "
               "stop_timeout).")
NO_PREFIX = Flag("no_prefix", ("--no-prefix",), "flag", "Print bare lines.")
NO_TIMESTAMPS = Flag("no_timestamps", ("--no-timestamps",), "flag",
                     "Leave out the HH:MM:SS column.")
NO_COLOR = Flag("no_color", ("--no-color", "--no-colour"), "flag",
                "Never colour the prefix (also: NO_COLOR=1; a detached stack never does).")
OUTPUT = Flag("output", ("--output",), "text",
              "text, or json: one JSON object per line and per lifecycle event (not with "
              "--detach: its log files are text).")
MAX_LINE = Flag("max_line", ("--max-line",), "int",
                "Longest line in bytes; longer lines are cut into pieces marked '+'.")
RAW = Flag("raw", ("--raw",), "flag",
           "On a terminal, pass the services' control characters and escape sequences through "
           "(by default they are shown as ^M, ^[ so that no service can move the cursor over "
           "other lines; colours are kept either way).")

TTY = Flag("tty", ("--tty",), "text",
           "Run this service on a pseudo-terminal of its own, as `tty: true` does (its colours "
           "and line buffering as in a terminal; `orchestra attach` reaches it). Repeatable or "
           "comma-separated.", multiple=True)

PROFILE = Flag("profiles", ("--profile",), "text",
               "Activate a profile: the services with `profiles:` naming it start too. "
               "Repeatable or comma-separated (default: $ORCHESTRA_PROFILES).", multiple=True)
NAMESPACE = Flag("namespace", ("--namespace", "-n"), "text",
                 "Start the services of this namespace (plus dependencies).")
FORMATION = Flag("formation", ("-c", "--concurrency", "-m", "--formation"), "text",
                 "Instances per service, e.g. web=2,worker=0,all=1. Repeatable (a later "
                 "count for the same service wins).", joined=True)
QUIET = Flag("quiet", ("-q", "--quiet"), "text",
             "Comma-separated services whose output is hidden. Repeatable. (Not with "
             "--detach: each service has its log file.)", joined=True)
ABORT_ON_EXIT = Flag("abort_on_exit", ("--abort-on-exit",), "flag",
                     "Stop everything when any service ends.")
EXIT_CODE_FROM = Flag("exit_code_from", ("--exit-code-from",), "text",
                      "Stop everything when SERVICE ends, also by `orchestra stop`; exit with "
                      "its code (not with --detach).")

WITH = Flag("with_services", ("--with",), "text",
            "Start these services (comma-separated) and wait until they are ready before "
            "running the command. Their lines go to stderr; the command's stdout stays its own. "
            "Repeatable.", joined=True)
NO_DEPS = Flag("no_deps", ("--no-deps",), "flag",
               "With --with: do not start the services' dependencies.")
QUIET_SERVICES = Flag("quiet_services", ("--quiet-services",), "flag",
                      "Hide service output; show each service's last 50 lines if the command "
                      "fails or a service dies.")

PROJECT_NAME = Flag("project_name", ("--project-name",), "text",
                    "Name of the project's control socket (default: the config's folder and a "
                    "hash of its path); `ps`, `logs` and `down` find a run by it.",
                    envvar="ORCHESTRA_PROJECT_NAME")

DETACH = Flag("detach", ("-D", "--detach"), "flag",
              "Run the stack in the background and return once every service has started; "
              "control it with ps, logs and down. (-d is foreman's app root.)")
WAIT = Flag("wait", ("--wait",), "flag",
            "With --detach: return once every service is ready and every one-shot that "
            "another depends on has completed; on a failure before that, say why, stop the "
            "stack, exit 1.")
LOG_DIR = Flag("log_dir", ("--log-dir",), "path",
               "With --detach: the folder for the log files (default: orchestra/PROJECT "
               "in $XDG_STATE_HOME, else in ~/.local/state).")
LOG_LINES = Flag("log_lines", ("--log-lines",), "int",
                 "Lines of each instance kept in memory for `orchestra logs` (default 1000; "
                 "at most 1 MiB each either way).")
WATCH = Flag("watch", ("--watch",), "flag",
             "Restart (or signal) the services that have `watch:` when their files change "
             "(the default; an error when no service of the run has `watch:`).")
NO_WATCH = Flag("no_watch", ("--no-watch",), "flag",
                "Ignore every `watch:` setting for this run: no service restarts on a change.")
TUI = Flag("tui", ("--tui",), "flag",
           "Start the stack in the background (as --detach) and open the live view on it "
           "(orchestra tui, needs the tui extra); quitting the view leaves the stack running.")

#: Accepted before the command too (`orchestra -e .env.test run ...`, as honcho accepts).
GLOBAL = (FILE, ENV, APP_ROOT)
OUTPUT_FLAGS = (NO_PREFIX, NO_TIMESTAMPS, NO_COLOR, OUTPUT, MAX_LINE, RAW, TTY)
UP = (*GLOBAL, PROFILE, NAMESPACE, FORMATION, PORT, TIMEOUT, *OUTPUT_FLAGS, QUIET, ABORT_ON_EXIT,
      EXIT_CODE_FROM, PROJECT_NAME, DETACH, WAIT, LOG_DIR, LOG_LINES, TUI, WATCH, NO_WATCH)
RUN = (WITH, NO_DEPS, QUIET_SERVICES, *GLOBAL, TIMEOUT, *OUTPUT_FLAGS, PROJECT_NAME)

DEFAULT_MAX_LINE = 4 * 1024 * 1024
