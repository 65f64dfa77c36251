"""Infer a service's command from its run directory when the config gives none (DESIGN §2.6).

The rules follow the local runtime this project grew from: a Go module runs with `go run .`
(vendored modules with `-mod vendor`), a Node package with a `start` script runs `npm start`,
and a Python package directory runs with `python3 .`.
"""

from __future__ import annotations

from pathlib import Path

LOOKED_FOR = "go.mod, package.json with a 'start' script, __main__.py"


class InferenceError(ValueError):
    pass


def infer_command(run_dir: Path) -> tuple[str, ...]:
    """The argv to run in `run_dir`, or InferenceError naming the directory and the rules."""
    if (run_dir / "go.mod").is_file():
        if (run_dir / "vendor").is_dir():
            return ("go", "run", "-mod", "vendor", ".")
        return ("go", "run", ".")
    if _has_start_script(run_dir / "package.json"):
        return ("npm", "start")
    if (run_dir / "__main__.py").is_file():
        return ("python3", ".")
    raise InferenceError(f"no command given and none can be inferred in {run_dir} "
                         f"(looked for {LOOKED_FOR})")


def _has_start_script(package_json: Path) -> bool:
    import json  # only for a service without a command, in a folder with a package.json

    try:
        manifest = json.loads(package_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    scripts = manifest.get("scripts") if isinstance(manifest, dict) else None
    return isinstance(scripts, dict) and isinstance(scripts.get("start"), str)
