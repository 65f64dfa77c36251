"""No value from the environment or an env file is ever written to disk by orchestra.

CI workflows cache and upload `~/.cache` and the temp folder; a `.env` value found there
outlives the file it came from. Each command runs with a sentinel in `.env` and in its own
environment, with every folder orchestra may write to pointed at a fresh one, and then every
file in them (and in the project) is searched for the sentinels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import TEXT, Cli
from helpers.orch import PY, Project, wait_until

FROM_ENV_FILE = "sentinel-from-dotenv-5e1f0c"
FROM_ENVIRONMENT = "sentinel-from-environ-9a7b3d"


def _folders(tmp_path: Path) -> dict[str, Path]:
    folders = {name: tmp_path / name.lower()
               for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "TMPDIR")}
    for folder in folders.values():
        folder.mkdir(mode=0o700)
    return folders


def _files_with_sentinels(roots: list[Path], written_by_test: set[Path]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path in written_by_test or not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()
            for sentinel in (FROM_ENV_FILE, FROM_ENVIRONMENT):
                if sentinel.encode() in data:
                    found.append(f"{path}: {sentinel}")
    return found


@pytest.mark.parametrize("kind", ["yaml", "procfile"])
def test_no_secret_reaches_any_folder_orchestra_writes(
        project: Project, tmp_path: Path, kind: str) -> None:
    root = project.root / "app"
    root.mkdir()
    dotenv = root / ".env"
    dotenv.write_text(f"API_TOKEN={FROM_ENV_FILE}\n")
    report = "import os; print('token', len(os.environ['API_TOKEN']), len(os.environ['MYPASS']))"
    if kind == "yaml":
        config = root / "orchestra.yaml"
        config.write_text(
            "services:\n"
            "  db:\n"
            f"    command: [{PY!r}, -c, \"{report}\"]\n"
            "    readiness: {log: token}\n"
            "    env: {URL: 'postgres://u:${API_TOKEN}@x/${MYPASS}'}\n"
            "  web:\n"
            f"    command: [{PY!r}, -c, 'import time; time.sleep(0.5)']\n"
            # orchestra's own lines quote a check's command: they must stay off disk
            "    readiness: {exec: 'test -n ${API_TOKEN}', interval: 50ms}\n")
    else:
        config = root / "Procfile"
        config.write_text(f"db: {PY} -c \"{report}\"\nweb: sleep 0.2\n")
    folders = _folders(tmp_path)
    env = {**{name: str(path) for name, path in folders.items()},
           "MYPASS": FROM_ENVIRONMENT, "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    cli = Cli(project, env)
    try:
        for args in (["up", *TEXT], ["up", "--detach", "--wait"],
                     ["run", "--with", "db", *TEXT, "--", "true"],
                     ["run", "true"], ["check"], ["config"], ["config", "--format", "json"],
                     ["graph"]):
            result = cli.run(*args, cwd=root, timeout=30)
            assert result.rc == 0, (args, result.dump())
            if "--detach" in args:   # its services complete: the stack ends by itself
                wait_until(lambda: cli.run("ps", cwd=root).rc == 1, 15, "the stack to end")
    finally:
        cli.close()
    leaks = _files_with_sentinels([*folders.values(), tmp_path / "home", root], {dotenv})
    assert leaks == [], leaks
