"""How a configured shell string is run: without the shell when it needs none.

`spawn` asks here whether `sh -c STRING` can exec the program directly (`plain_words`), which
file the shell would run (`find_program`), and which environment names a shell passes on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

#: A shell string made only of these characters has no expansion, quoting, redirection or
#: control flow: the shell would only split it at spaces and run the program it names.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_./:,@%+=")
#: First words that mean something else to the shell than the program of that name: its
#: builtins (dash's, and bash's where /bin/sh is bash; `echo -e` differs from /bin/echo's)
#: and the reserved words. Such a string runs under the shell, as written.
_BUILTINS = frozenset({".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command",
                       "continue", "echo", "eval", "exec", "exit", "export", "false", "fc",
                       "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read",
                       "readonly", "return", "set", "shift", "test", "times", "trap", "true",
                       "type", "ulimit", "umask", "unalias", "unset", "wait",
                       "builtin", "declare", "disown", "let", "popd", "pushd", "shopt", "source",
                       "typeset",
                       "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in",
                       "then", "until", "while"})
#: The environment names a POSIX shell passes on; it silently drops any other.
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def plain_words(argv: Sequence[str]) -> list[str] | None:
    """The words of `["/bin/sh", "-c", STRING]` when STRING needs no shell, else None.

    `sh -c "web --port 80"` and exec'ing `["web", "--port", "80"]` directly differ in nothing
    but cost: the shell would split the words, find the program on the same PATH and (with
    `exec`) become it. Skipping it saves an exec of /bin/sh per service, a third of the cost
    of starting one.
    """
    if len(argv) != 3 or argv[0] != "/bin/sh" or argv[1] != "-c":
        return None
    words = argv[2].split()
    if (not words or not _PLAIN.issuperset(argv[2]) or "=" in words[0]
            or words[0] in _BUILTINS or words[0].startswith("-")):
        return None
    return words


def as_shell_passes_it(env: Mapping[str, str]) -> dict[str, str]:
    """`env` as the shell would hand it to its program: only names it can hold."""
    return {name: value for name, value in env.items() if _SHELL_NAME.fullmatch(name)}


def exec_plain_command(argv: Sequence[str]) -> list[str]:
    """`sh -c "web --port 80"` → `sh -c "exec web --port 80"`.

    dash, Debian's /bin/sh, forks even for the last command of a string, leaving a shell
    between orchestra and the program: one more process per service, and a signal handled by
    the shell instead of the program. For a string with no shell syntax, `exec` removes the
    shell with no other difference; anything else runs exactly as written.
    """
    if plain_words(argv) is None:
        return list(argv)
    return [argv[0], argv[1], "exec " + argv[2]]


def find_program(word: str, cwd: str, path: str) -> str | None:
    """The file the shell would run for `word`: the first executable regular file on `path`
    (relative entries, and a word with a '/', taken from `cwd`), as a path; None if none.
    Found here rather than by exec's own search, which would pass over a script without
    `#!` that the shell would run."""
    folders = [""] if "/" in word else path.split(":")
    for folder in folders:
        candidate = os.path.join(folder, word) if folder else word
        full = candidate if os.path.isabs(candidate) else os.path.join(cwd, candidate)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    return None
