"""Helpers for tests/test_export_*.py: a project with hostile values, `orchestra export` and
`orchestra config` run as real processes, and what orchestra itself would run (the model)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from helpers.orch import base_env

#: argv words every format must carry exactly (written `$$` for `$` in orchestra.yaml)
ARGS = ["two words", 'double"quote', "single'quote", "both'\"kinds", "$HOME", "$(VAR)",
        "$$", "100%", "%n%%", "back\\slash", "trail\\", "semi;colon", "x ;y", "hash #z",
        ";", "", "tab\there", "ünïcödé", '"quoted"', "'quoted'", "--flag=a b"]
#: env values every format must carry (supervisord's environment= takes these, too)
ENV = {"SPACES": "two words", "DOLLAR": "$HOME and $(VAR) and $$", "PERCENT": "100% %n",
       "BACKSLASH": "back\\slash\\", "SINGLE": "it's", "DOUBLE": 'say "hi" now',
       "SEMI": "semi;colon", "HASH": "x#y", "EMPTY": "", "COMMA": "a,b=c"}
#: env values for the formats that can carry anything (not supervisord)
ENV_ANY = {"BOTH": "both'\"kinds", "LEADING": '"quoted"', "COMMENTISH": "a ;b #c",
           "NEWLINE": "line one\nline two"}
#: a .env file: values that come from env files, with what python-dotenv makes of them
DOTENV = """\
SECRET_QUOTE="say \\"q\\" here"
SECRET_SINGLE="it's"
SECRET_DOLLAR='$NOT_EXPANDED and 100%'
SECRET_SPACE="  lead and trail  "
SECRET_BACK='a\\b'
"""

#: .env values for the formats with env files of their own (not supervisord, Nomad inlines)
SECRETS_ANY = {"S_NEWLINE": "line one\nline two", "S_TICK": "`cmd` $(x) $HOME $$",
               "S_QUOTES": "both'\"kinds\\", "S_PERCENT": "100% %n", "S_EMPTY": "",
               "S_HASH": "a #b ;c", "S_SPACES": "  padded  "}


def dotenv_text(values: Mapping[str, str]) -> str:
    """A .env file that python-dotenv reads back as `values` (JSON's escapes are dotenv's)."""
    return "".join(f"{key}={json.dumps(value)}\n" for key, value in values.items())


def yaml_text(value: str) -> str:
    """A value as written in orchestra.yaml: `$$` is a `$` there."""
    return value.replace("$", "$$")


def write_project(root: Path, services: Mapping[str, object], dotenv: str | None = DOTENV,
                  **top: object) -> Path:
    """orchestra.yaml (JSON is YAML) and .env in `root`."""
    root.mkdir(parents=True, exist_ok=True)
    if dotenv is not None:
        (root / ".env").write_text(dotenv)
    path = root / "orchestra.yaml"
    path.write_text(json.dumps({"services": services, **top}, indent=1))
    return path


def hostile_services(*, env_any: bool, newline_arg: bool) -> dict[str, object]:
    """db → migrate (one-shot) → web (2 replicas with ports), worker (identical replicas)."""
    args = [*ARGS, *(["line one\nline two"] if newline_arg else [])]
    env = {**ENV, **(ENV_ANY if env_any else {})}
    return {
        "db": {
            "command": ["/bin/echo", *(yaml_text(a) for a in args)],
            "env": {k: yaml_text(v) for k, v in env.items()},
            "readiness": {"tcp": 5432, "interval": "2s", "timeout": "1s"},
            "restart": {"policy": "on-failure", "max_restarts": 3, "backoff": "2s"},
            "stop_signal": "SIGINT",
            "stop_timeout": "3s",
        },
        "migrate": {
            "command": ["/bin/echo", "migrate"],
            "depends_on": {"db": {"condition": "ready"}},
        },
        "web": {
            "command": "echo \"$PORT\" '100%' $$(date)",
            "depends_on": {"migrate": {"condition": "completed_successfully"},
                           "db": {"condition": "started"}},
            "port": 8000,
            "replicas": 2,
            "readiness": {"http": "http://127.0.0.1:8000/health"},
            "liveness": {"tcp": 8000},
        },
        "worker": {
            "command": ["/bin/sleep", "100"],
            "replicas": 2,
            "restart": {"policy": "always"},
            "depends_on": ["db"],
        },
    }


def run_cli(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestra", *args], cwd=root,
                          env=base_env("export-test"), capture_output=True, text=True,
                          timeout=timeout, check=False)


def export(root: Path, format_name: str, out: Path,
           *args: str) -> subprocess.CompletedProcess[str]:
    """`orchestra export FORMAT OUT ARGS` in `root`; fails the test unless it succeeded,
    printed exactly the files it wrote, and wrote nothing else."""
    result = run_cli(root, "export", format_name, str(out), *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listed = sorted(result.stdout.splitlines())
    assert listed == sorted(str(p) for p in out.iterdir()), result.stdout
    return result


def load_model(root: Path, *args: str) -> dict[str, dict[str, object]]:
    """What `up` would run, as `orchestra config --show-env` says: service → settings."""
    result = run_cli(root, "config", "--format", "json", "--show-env", *args)
    assert result.returncode == 0, result.stderr
    services: dict[str, dict[str, object]] = json.loads(result.stdout)["services"]
    return services


def dollars_unescaped(text: str, what: str) -> str:
    """`$$` → `$`, the rule of compose, Kubernetes and systemd's ExecStart; a lone `$` would
    be expanded by the consumer, so it fails the test."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        else:
            assert text[i] != "$", f"{what}: an unescaped '$' in {text!r}"
            out.append(text[i])
            i += 1
    return "".join(out)


def check_env(got: Mapping[str, str], expected: Mapping[str, object],
              extra: Mapping[str, str] | None = None, skip: Sequence[str] = ()) -> None:
    """Every model value (plus `extra`: PS, PORT…) is in `got`, exactly."""
    wanted = {k: v for k, v in {**expected, **(extra or {})}.items() if k not in skip}
    assert {k: got.get(k) for k in wanted} == wanted
