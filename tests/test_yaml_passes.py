"""The YAML loader's passes (config/yaml_config.py) over one load state."""

from __future__ import annotations

from pathlib import Path

from orchestra.config import yaml_config
from orchestra.config.envfiles import EnvFile, EnvFileCache
from orchestra.config.project import LoadOptions
from orchestra.config.source import load_yaml
from orchestra.errors import Problem


class CountingCache(EnvFileCache):
    """Counts the reads that reach the file system."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[Path, int] = {}

    def read(self, path: Path, *, required: bool) -> tuple[EnvFile, list[Problem]]:
        before = len(self._read)
        result = super().read(path, required=required)
        if len(self._read) > before:
            self.reads[path] = self.reads.get(path, 0) + 1
        return result


def _run_passes(path: Path, cache: EnvFileCache) -> yaml_config.YamlLoad:
    load = yaml_config.YamlLoad(path, path.parent, LoadOptions(cwd=path.parent, environ={}),
                                load_yaml(path), env_files=cache)
    yaml_config.read_env_files(load)
    yaml_config.interpolate(load)
    yaml_config.check_schema(load)
    spec = yaml_config.build(load)
    yaml_config.check_dependency_names(load, spec)
    return load


def test_each_env_file_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "common.env").write_text("A=1\n")
    (tmp_path / ".env").write_text("B=2\n")
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n"
        "  web: {command: 'echo $PORT', port: 8000, replicas: 3, env_file: common.env,"
        " env: {P: '${PORT}'}}\n"
        "  api: {command: x, env_file: [common.env, .env]}\n"
        "  bad: {command: x, env_file: common.env, stop_signal: SIGNOPE}\n")
    cache = CountingCache()
    load = _run_passes(tmp_path / "orchestra.yaml", cache)
    assert set(cache.reads.values()) == {1}, cache.reads
    assert [p.field for p in load.problems] == ["services.bad.stop_signal"]


def test_a_service_with_a_wrong_setting_is_still_built_for_its_other_problems(
        tmp_path: Path) -> None:
    (tmp_path / "orchestra.yaml").write_text(
        "services:\n"
        "  web: {comand: x, stop_timeout: 5parsecs, depends_on: [nope]}\n")
    load = _run_passes(tmp_path / "orchestra.yaml", EnvFileCache())
    fields = sorted(p.field for p in load.problems)
    assert fields == ["services.web.comand", "services.web.depends_on",
                      "services.web.stop_timeout"], load.problems
    assert load.wrong == {"web": {"comand", "stop_timeout"}}
