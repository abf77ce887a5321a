"""The command's configuration: flags over the config file over defaults."""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import webtest

from pagesfn import Limits, Pages, PagesError
from pagesfn.serving.config import Config, ConfigError, load_config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def load_toml(project: Path, text: str, **kwargs: Any) -> Config:
    write(project / "pagesfn.toml", text)
    return load_config(project, **kwargs)


def toml_problems(project: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        load_toml(project, text)
    return problems_of(excinfo)


# Defaults and the public folder


def test_defaults_for_an_empty_project(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config == Config(
        project=tmp_path,
        functions=tmp_path / "functions",
        public=None,
        env_files=(tmp_path / ".env", tmp_path / ".dev.vars"),
    )
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8788, 1)
    assert (config.spa, config.debug, config.reload, config.access_log) == (
        False,
        None,
        None,
        None,
    )
    assert (config.log_format, config.max_threads, config.shutdown_timeout) == ("text", 40, 30.0)
    assert (config.region, config.geo_header, config.client_ip_header) == ("local", None, None)
    assert config.origin is None
    assert config.source is None


def test_the_project_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pagesfn.toml", "port = 9000\n")
    config = load_config()
    assert config.project == tmp_path
    assert config.port == 9000


def test_a_relative_project_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "site").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config("site")
    assert config.project == tmp_path / "site"
    assert config.functions == tmp_path / "site" / "functions"


def test_a_missing_project_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the project folder does not exist"):
        load_config(tmp_path / "nowhere")


def test_public_is_detected_only_when_the_folder_exists(tmp_path: Path) -> None:
    assert load_config(tmp_path).public is None
    (tmp_path / "public").write_text("a file, not a folder")
    assert load_config(tmp_path).public is None
    (tmp_path / "public").unlink()
    (tmp_path / "public").mkdir()
    assert load_config(tmp_path).public == tmp_path / "public"


# Where the file comes from


EVERY_KEY = """
functions = "api"
public = "dist"
origin = "http://127.0.0.1:3000"
env_files = [".env.local"]
host = "0.0.0.0"
port = 9000
workers = 4
spa = true
debug = true
reload = false
access_log = true
log_format = "json"
max_threads = 8
shutdown_timeout = 5
region = "eu"
geo_header = "X-Geo"
client_ip_header = "X-Real-IP"
"""


def test_pagesfn_toml_sets_every_key(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    config = load_toml(tmp_path, EVERY_KEY)
    assert config == Config(
        project=tmp_path,
        functions=tmp_path / "api",
        public=tmp_path / "dist",
        origin="http://127.0.0.1:3000",
        env_files=(tmp_path / ".env.local",),
        host="0.0.0.0",
        port=9000,
        workers=4,
        spa=True,
        debug=True,
        reload=False,
        access_log=True,
        log_format="json",
        max_threads=8,
        shutdown_timeout=5.0,
        region="eu",
        geo_header="X-Geo",
        client_ip_header="X-Real-IP",
        source=tmp_path / "pagesfn.toml",
    )
    assert isinstance(config.shutdown_timeout, float)


def test_pyproject_tool_pagesfn_table(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "site"

        [tool.pagesfn]
        port = 9001
        functions = "api"
        """,
    )
    config = load_config(tmp_path)
    assert config.port == 9001
    assert config.functions == tmp_path / "api"
    assert config.source == tmp_path / "pyproject.toml"


def test_pyproject_without_the_table_gives_defaults(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "site"\n\n[tool.other]\nport = 1\n')
    config = load_config(tmp_path)
    assert config.port == 8788
    assert config.source is None


def test_pagesfn_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.pagesfn]\nport = 9001\nregion = 'py'\n")
    write(tmp_path / "pagesfn.toml", "port = 9002\n")
    config = load_config(tmp_path)
    assert config.port == 9002
    # The tables are not merged: pyproject is not read at all.
    assert config.region == "local"
    assert config.source == tmp_path / "pagesfn.toml"


def test_an_explicit_config_file_wins_over_pagesfn_toml(tmp_path: Path) -> None:
    write(tmp_path / "pagesfn.toml", "port = 9002\n")
    other = write(tmp_path / "conf" / "staging.toml", "port = 9003\n")
    config = load_config(tmp_path, config_file=other)
    assert config.port == 9003
    assert config.source == other


def test_an_explicit_pyproject_is_read_for_its_table(tmp_path: Path) -> None:
    other = write(tmp_path / "conf" / "pyproject.toml", "[tool.pagesfn]\nport = 9004\n")
    assert load_config(tmp_path, config_file=other).port == 9004


def test_an_explicit_pyproject_without_the_table_is_an_error(tmp_path: Path) -> None:
    other = write(tmp_path / "conf" / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"there is no \[tool.pagesfn\] table"):
        load_config(tmp_path, config_file=other)


def test_a_missing_explicit_config_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pagesfn.toml", "port = 9002\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path, config_file="staging.toml")
    assert problems_of(excinfo) == ["staging.toml: the config file does not exist; check the path"]
    assert excinfo.value.code == "config"
    assert isinstance(excinfo.value, PagesError)


# Precedence and overrides


def test_overrides_over_file_over_defaults(tmp_path: Path) -> None:
    write(tmp_path / "pagesfn.toml", "port = 9000\nregion = 'eu'\n")
    config = load_config(tmp_path, {"port": 9100, "debug": True})
    assert config.port == 9100  # the override over the file
    assert config.region == "eu"  # the file over the default
    assert config.debug is True  # the override over the default
    assert config.workers == 1  # the default


def test_none_overrides_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "pagesfn.toml", "port = 9000\nspa = false\n")
    overrides = {"port": None, "spa": None, "debug": None, "public": None, "env_files": None}
    config = load_config(tmp_path, overrides)
    assert config.port == 9000
    assert config.debug is None
    assert config.env_files == (tmp_path / ".env", tmp_path / ".dev.vars")


def test_false_overrides_are_not_ignored(tmp_path: Path) -> None:
    write(tmp_path / "pagesfn.toml", "debug = true\n")
    assert load_config(tmp_path, {"debug": False}).debug is False


def test_an_unknown_override_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'prot'"):
        load_config(tmp_path, {"prot": 1})
    with pytest.raises(TypeError, match="'project'"):
        load_config(tmp_path, {"project": "."})


def test_invalid_overrides_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path, {"port": 0, "log_format": "xml", "max_threads": "8"})
    assert problems_of(excinfo) == [
        "command line: `--port` must be an integer from 1 to 65535, not 0",
        'command line: `--log-format` must be "text" or "json", not "xml"',
        'command line: `--max-threads` must be an integer of at least 1, not "8"',
    ]


# Spellings and paths


def test_kebab_case_keys(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        """
        env-files = "vars.env"
        max-threads = 3
        log-format = "json"
        shutdown-timeout = 1.5
        access-log = false
        geo-header = "X-Geo"
        client-ip-header = "X-Forwarded-For"
        """,
    )
    assert config.env_files == (tmp_path / "vars.env",)
    assert (config.max_threads, config.log_format, config.shutdown_timeout) == (3, "json", 1.5)
    assert config.access_log is False
    assert (config.geo_header, config.client_ip_header) == ("X-Geo", "X-Forwarded-For")


def test_both_spellings_of_one_key_is_an_error(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, "max-threads = 3\nmax_threads = 4\n")
    assert len(problems) == 1
    assert "`max-threads` and `max_threads` are the same key; keep one of them" in problems[0]


def test_paths_in_the_file_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(tmp_path)  # not the project folder, not the file's folder
    conf = write(
        project / "conf" / "site.toml",
        """
        functions = "../api"
        public = "static"
        env_files = ["a.env", "/abs/b.env"]
        """,
    )
    config = load_config(project, config_file=conf)
    assert config.functions == project / "api"
    assert config.public == project / "conf" / "static"
    assert config.env_files == (project / "conf" / "a.env", Path("/abs/b.env"))


def test_paths_in_pagesfn_toml_are_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_toml(project, 'functions = "src/functions"\n')
    assert config.functions == project / "src" / "functions"


def test_paths_in_overrides_are_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    overrides = {"functions": "api", "public": Path("out"), "env_files": ("x.env", "y.env")}
    config = load_config(project, overrides)
    assert config.functions == tmp_path / "api"
    assert config.public == tmp_path / "out"
    assert config.env_files == (tmp_path / "x.env", tmp_path / "y.env")


# Unknown keys and several problems


def test_an_unknown_key_suggests_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert toml_problems(tmp_path, "prot = 9000\n") == [
        "pagesfn.toml: unknown key `prot`; did you mean `port`?"
    ]


def test_an_unknown_kebab_key_suggests_the_kebab_spelling(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "max-thread = 9\n")
    assert problem.endswith("unknown key `max-thread`; did you mean `max-threads`?")


def test_an_unknown_key_without_a_close_one_lists_the_keys(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "zzzzzz = 1\n")
    assert "unknown key `zzzzzz`" in problem
    assert "did you mean" not in problem
    assert "known keys: functions, public, origin" in problem


def test_project_and_source_are_not_keys(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, 'project = "."\nsource = "x"\n')
    assert [p.split(": ", 1)[1].split(";")[0] for p in problems] == [
        "unknown key `project`",
        "unknown key `source`",
    ]


def test_a_sub_table_is_an_unknown_key(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "port = 9000\n\n[cache]\nsize = 3\n")
    assert "unknown key `cache`" in problem


def test_kv_bindings_get_a_file_each(tmp_path: Path) -> None:
    (tmp_path / "pagesfn.toml").write_text(
        '[kv]\nVISITS = {}\nSESSIONS = { path = "data/sessions.sqlite3" }\n'
        'CACHE = { url = "redis://127.0.0.1:6379/0" }\n'
    )
    config = load_config(tmp_path)
    assert config.kv == {
        "VISITS": tmp_path / ".pagesfn" / "kv" / "VISITS.sqlite3",
        "SESSIONS": tmp_path / "data" / "sessions.sqlite3",
        "CACHE": "redis://127.0.0.1:6379/0",
    }
    assert config.pages_options()["kv"] == dict(config.kv)


@pytest.mark.parametrize(
    "table",
    [
        "[kv]\nbinding = 'KV'\n",
        "[kv]\n'bad-name' = {}\n",
        "[kv]\nX = { url = 'http://h' }\n",
        "[kv]\nX = { url = 'redis://h', path = 'x' }\n",
    ],
)
def test_bad_kv_bindings_are_problems(tmp_path: Path, table: str) -> None:
    (problem,) = toml_problems(tmp_path, table)
    assert "`kv` must be a table of bindings" in problem


def test_unknown_keys_in_pyproject_name_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.pagesfn]\nprot = 1\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    assert problems_of(excinfo) == [
        "pyproject.toml [tool.pagesfn]: unknown key `prot`; did you mean `port`?"
    ]


def test_a_tool_pagesfn_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool]\npagesfn = 3\n")
    with pytest.raises(ConfigError, match=r"`tool\.pagesfn` must be a table"):
        load_config(tmp_path)


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pagesfn.toml", "prot = 1\nworkers = 0\nspa = 'yes'\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path, {"host": ""})
    assert problems_of(excinfo) == [
        "pagesfn.toml: unknown key `prot`; did you mean `port`?",
        "pagesfn.toml: `workers` must be an integer of at least 1, not 0",
        'pagesfn.toml: `spa` must be a boolean (true or false), not "yes"',
        'command line: `--host` must be a non-empty string, not ""',
    ]
    assert str(excinfo.value).startswith("the configuration has 4 problems:\n  - pagesfn.toml:")


def test_one_problem_is_singular(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pagesfn.toml", "workers = 0\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    assert str(excinfo.value) == (
        "the configuration has 1 problem:\n"
        "  - pagesfn.toml: `workers` must be an integer of at least 1, not 0"
    )


# Types


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("port = 0", "`port` must be an integer from 1 to 65535, not 0"),
        ("port = 65536", "`port` must be an integer from 1 to 65535, not 65536"),
        ('port = "8000"', '`port` must be an integer from 1 to 65535, not "8000"'),
        ("port = 80.0", "`port` must be an integer from 1 to 65535, not 80.0"),
        ("port = true", "`port` must be an integer from 1 to 65535, not true"),
        ("workers = 0", "`workers` must be an integer of at least 1, not 0"),
        ("max_threads = -1", "`max_threads` must be an integer of at least 1, not -1"),
        ('log_format = "xml"', '`log_format` must be "text" or "json", not "xml"'),
        ("origin = 'ftp://x'", "`origin` must be an http:// or https:// URL"),
        ("origin = 'http://'", "`origin` must be an http:// or https:// URL"),
        ("origin = 'localhost:3000'", "`origin` must be an http:// or https:// URL"),
        ("origin = 'http://h/?q=1'", "`origin` must be an http:// or https:// URL"),
        ("origin = 'http://h:99999'", "`origin` must be an http:// or https:// URL"),
        ("origin = 3000", "`origin` must be an http:// or https:// URL"),
        ('spa = "true"', '`spa` must be a boolean (true or false), not "true"'),
        ("debug = 1", "`debug` must be a boolean (true or false), not 1"),
        ("reload = 'no'", '`reload` must be a boolean (true or false), not "no"'),
        ("access_log = 0", "`access_log` must be a boolean (true or false), not 0"),
        (
            "shutdown_timeout = -1",
            "`shutdown_timeout` must be a non-negative number of seconds, not -1",
        ),
        ("shutdown_timeout = inf", "`shutdown_timeout` must be a non-negative number of seconds"),
        ("shutdown_timeout = nan", "`shutdown_timeout` must be a non-negative number of seconds"),
        ("shutdown_timeout = '5'", "`shutdown_timeout` must be a non-negative number of seconds"),
        ("shutdown_timeout = false", "`shutdown_timeout` must be a non-negative number"),
        ("host = ''", '`host` must be a non-empty string, not ""'),
        ("host = 127", "`host` must be a non-empty string, not 127"),
        ("region = []", "`region` must be a non-empty string, not []"),
        ("functions = 1", "`functions` must be a path (a non-empty string), not 1"),
        ("public = ''", '`public` must be a path (a non-empty string), not ""'),
        ("env_files = 1", "`env_files` must be a path or a list of paths, not 1"),
        ("env_files = ['a', 2]", '`env_files` must be a path or a list of paths, not ["a", 2]'),
        ("geo_header = 'X Geo'", "`geo_header` must be a header name (such as X-Real-IP), not"),
        ("client_ip_header = ''", "`client_ip_header` must be a header name"),
        ("port = {a = 1}", "`port` must be an integer from 1 to 65535, not a table"),
    ],
)
def test_type_errors_name_the_key_the_type_and_the_value(
    tmp_path: Path, line: str, expected: str
) -> None:
    (problem,) = toml_problems(tmp_path, line + "\n")
    assert str(tmp_path / "pagesfn.toml") in problem
    assert expected in problem


@pytest.mark.parametrize(
    ("line", "attribute", "value"),
    [
        ("port = 1", "port", 1),
        ("port = 65535", "port", 65535),
        ("shutdown_timeout = 0", "shutdown_timeout", 0.0),
        ("shutdown_timeout = 0.25", "shutdown_timeout", 0.25),
        ("origin = 'https://example.com/base'", "origin", "https://example.com/base"),
        ("origin = 'http://[::1]:3000'", "origin", "http://[::1]:3000"),
        ("env_files = []", "env_files", ()),
        ("client_ip_header = 'X-Forwarded-For'", "client_ip_header", "X-Forwarded-For"),
    ],
)
def test_edge_values_are_accepted(tmp_path: Path, line: str, attribute: str, value: object) -> None:
    assert getattr(load_toml(tmp_path, line + "\n"), attribute) == value


def test_spa_without_a_public_folder_is_an_error(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "spa = true\n")
    assert "`spa` is on but there is no public folder" in problem
    assert f"create {tmp_path / 'public'} or set `public`" in problem
    (tmp_path / "public").mkdir()
    assert load_config(tmp_path).spa is True


def test_spa_from_the_command_line_without_public_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path, {"spa": True})
    (problem,) = problems_of(excinfo)
    assert problem.startswith("command line: `--spa` is on but there is no public folder")


def test_an_invalid_public_does_not_also_report_spa(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, "spa = true\npublic = 3\n")
    assert len(problems) == 1
    assert "`public` must be a path" in problems[0]


# Invalid files


def test_invalid_toml_names_the_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pagesfn.toml", 'port = 9000\nhost = "0.0.0.0\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    (problem,) = problems_of(excinfo)
    assert problem.startswith("pagesfn.toml: invalid TOML: ")
    assert "line 2, column 16" in problem


def test_invalid_toml_in_pyproject_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.pagesfn\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: .*line 1, column 14"):
        load_config(tmp_path)


def test_a_config_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pagesfn.toml").write_bytes(b'region = "\xff"\n')
    with pytest.raises(ConfigError, match=r"pagesfn\.toml: cannot be read"):
        load_config(tmp_path)


# env()


def test_env_merges_env_and_dev_vars_with_dev_vars_winning(tmp_path: Path) -> None:
    write(tmp_path / ".env", "A=from-env\nB=from-env\n")
    write(tmp_path / ".dev.vars", "B=from-dev-vars\nC=from-dev-vars\n")
    assert load_config(tmp_path).env() == {
        "A": "from-env",
        "B": "from-dev-vars",
        "C": "from-dev-vars",
    }


def test_env_follows_the_order_of_env_files(tmp_path: Path) -> None:
    write(tmp_path / "one.env", "K=one\n")
    write(tmp_path / "two.env", "K=two\n")
    assert load_toml(tmp_path, "env_files = ['two.env', 'one.env']\n").env() == {"K": "one"}


def test_env_handles_quotes_comments_and_export(tmp_path: Path) -> None:
    write(
        tmp_path / ".env",
        """
        # a comment
        export EXPORTED=yes
        DOUBLE="two words"
        SINGLE='$NOT_EXPANDED'
        HASH=value # trailing comment
        MULTI="line one
        line two"
        EMPTY=
        BARE
        """,
    )
    assert load_config(tmp_path).env() == {
        "EXPORTED": "yes",
        "DOUBLE": "two words",
        "SINGLE": "$NOT_EXPANDED",
        "HASH": "value",
        "MULTI": "line one\nline two",
        "EMPTY": "",
    }


def test_env_skips_missing_files(tmp_path: Path) -> None:
    assert load_config(tmp_path).env() == {}
    write(tmp_path / ".dev.vars", "ONLY=dev\n")
    assert load_config(tmp_path).env() == {"ONLY": "dev"}
    config = load_config(
        tmp_path, {"env_files": [tmp_path / "missing.env", tmp_path / ".dev.vars"]}
    )
    assert config.env() == {"ONLY": "dev"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_env_reads_a_named_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "secrets.env"
    os.mkfifo(fifo)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "w") as pipe:
            pipe.write("PIPED=yes\n")

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        assert load_config(tmp_path, {"env_files": [fifo]}).env() == {"PIPED": "yes"}
    finally:
        if thread.is_alive():  # the pipe was never opened: let the writer go
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(5)


def test_env_reads_files_at_call_time(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    write(tmp_path / ".env", "LATE=yes\n")
    assert config.env() == {"LATE": "yes"}


def test_an_env_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"K=\xff\n")
    with pytest.raises(ConfigError, match=r"\.env: cannot be read"):
        load_config(tmp_path).env()


# pages_options()


def test_pages_options_without_debug_is_not_debug(tmp_path: Path) -> None:
    options = load_config(tmp_path).pages_options()
    assert options == {
        "functions": tmp_path / "functions",
        "public": None,
        "origin": None,
        "env": {},
        "debug": False,
        "spa": False,
        "max_threads": 40,
        "region": "local",
        "geo_header": None,
        "client_ip_header": None,
        "shutdown_timeout": 30.0,
        "kv": {},
        "functions_config": None,
        "extended_context_header": "X-Cloudbase-Context",
        "limits": Limits(),
    }


def test_the_form_limits_come_from_the_config_file(tmp_path: Path) -> None:
    write(tmp_path / "pagesfn.toml", "max-form-parts = 20\nmax-form-memory-size = '1MB'\n")
    limits = load_config(tmp_path).pages_options()["limits"]
    assert (limits.max_form_parts, limits.max_form_memory_size) == (20, 1024 * 1024)
    overridden = load_config(tmp_path, {"max_form_parts": 0}).pages_options()["limits"]
    assert overridden.max_form_parts is None


def test_pages_options_build_a_working_app(tmp_path: Path) -> None:
    write(
        tmp_path / "functions" / "hello.py",
        """
        def on_request(context):
            return {"greeting": context.env["GREETING"], "region": context.server.region}
        """,
    )
    write(tmp_path / "public" / "index.html", "<h1>home</h1>")
    write(tmp_path / ".dev.vars", "GREETING=hi\n")
    write(tmp_path / "pagesfn.toml", "region = 'eu'\nspa = true\nmax-threads = 2\n")
    config = load_config(tmp_path, {"debug": True})
    before = set(sys.modules)
    app = Pages(**config.pages_options())
    try:
        assert app.debug is True
        client = webtest.TestApp(app.wsgi)
        assert client.get("/hello").json == {"greeting": "hi", "region": "eu"}
        assert b"<h1>home</h1>" in client.get("/some/page").body  # the spa fallback
    finally:
        app.close()
        app.loader.unload()
    assert set(sys.modules) - before == set()
