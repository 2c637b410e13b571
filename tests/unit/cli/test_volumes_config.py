"""``storconn volumes`` configuration: the TOML file, the flags and variables over it, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storconn.cli.main import app
from storconn.cli.volumes_config import DEFAULT_DATABASE, ConfigError, load_config, make_backends

runner = CliRunner()

GOOD = """
[persistence]
storage = "db"
connection = "sqlite:////tmp/never-opened-by-these-tests.db"

[backends.gl1]
volume_driver = "file"
share = "glusterfs://gl1.example/vol0"

[backends.local]
share = "localfs:///srv/volumes"
device_type = "block"
"""


def _write(tmp_path: Path, text: str, name: str = "volumes.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _volumes(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["volumes", *args], env={"COLUMNS": "200", **(env or {})})
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_good_file_gives_the_persistence_config_and_one_table_per_backend(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))
    assert config.persistence == {"storage": "db", "connection": "sqlite:////tmp/never-opened-by-these-tests.db"}
    assert config.backends == {
        "gl1": {"volume_driver": "file", "share": "glusterfs://gl1.example/vol0"},
        "local": {"share": "localfs:///srv/volumes", "device_type": "block"},
    }


def test_persistence_defaults_to_db_on_the_system_sqlite_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "[backends.a]\nshare = 'localfs:///srv'\n"))
    assert config.persistence == {"storage": "db", "connection": DEFAULT_DATABASE}


def test_the_persistence_flag_replaces_the_connection(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), database="sqlite:////var/tmp/other.db")
    assert config.persistence["connection"] == "sqlite:////var/tmp/other.db"


def test_password_file_goes_into_the_url_and_is_masked_when_shown(tmp_path: Path) -> None:
    secret = _write(tmp_path, "pa55-word\n", "db-password")
    config = load_config(_write(tmp_path, f"""
[persistence]
connection = "postgresql://storconn@db.example/volumes"
password_file = "{secret}"
"""))
    assert config.persistence["connection"] == "postgresql://storconn:pa55-word@db.example/volumes"
    assert "password_file" not in config.persistence
    assert "pa55" not in config.database_url()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[persistence\n", "not valid TOML"),
        ("colour = 'blue'\n", "colour: is not a key of this file"),
        ("persistence = 3\n", "persistence: must be a table"),
        ("[persistence]\nstorage = 'memory'\n", "persistence.storage: must be 'db'"),
        ("[persistence]\nhost = 'x'\n", "persistence.host: is not a persistence option"),
        ("[persistence]\nconnection = ''\n", "persistence.connection: must be a non-empty string"),
        ("[persistence]\nconnection = 'not a url'\n", "persistence.connection: not a database URL"),
        ("[persistence]\npassword_file = '/nonexistent/pw'\n", "persistence.password_file: cannot read"),
        ("backends = 'gl1'\n", "backends: must be a table"),
        ("[backends]\ngl1 = 'glusterfs://x/y'\n", "backends.gl1: must be a table"),
        ("[backends.gl1]\nvolume_backend_name = 'gl2'\nshare = 'localfs:///srv'\n",
         "backends.gl1.volume_backend_name: must be 'gl1'"),
    ],
)
def test_a_bad_file_names_the_file_and_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert named in str(caught.value)


def test_a_missing_file_says_how_to_name_another(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file.*--config / STORCONN_VOLUMES_CONFIG"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ("volume_driver = 'ceph'\nshare = 'localfs:///srv'", "backends.b.volume_driver: must be one of"),
        ("share = 'localfs:///srv'\nshares = 1", "backends.b.shares: is not a file driver option"),
        ("volume_driver = 'file'", "backends.b.share: field required"),
        ("share = 'nfs://server'", "backends.b.share: "),
        ("share = 'localfs:///srv'\ndevice_type = 'tape'", "backends.b.device_type: must be 'file' or 'block'"),
    ],
)
def test_a_bad_backend_names_its_table_and_key(tmp_path: Path, table: str, named: str) -> None:
    path = _write(tmp_path, f"[backends.b]\n{table}\n")
    with pytest.raises(ConfigError, match="^" + str(path).replace(".", r"\.") + ": " + named.replace(".", r"\.")):
        make_backends(load_config(path))


def test_a_bad_backend_name_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "[backends.'bad name!']\nshare = 'localfs:///srv'\n")
    with pytest.raises(ConfigError, match=r"backends\.bad name!: "):
        make_backends(load_config(path))


# -- the commands -----------------------------------------------------------------


def test_backends_lists_the_tables_as_json_and_as_a_table(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    code, out, err = _volumes("backends", "--json", "--config", str(path))
    assert code == 0, err
    listed = json.loads(out)
    assert listed["gl1"] == {"volume_driver": "file", "share": "glusterfs://gl1.example/vol0"}
    assert listed["local"]["device_type"] == "block"
    code, out, _ = _volumes("backends", env={"STORCONN_VOLUMES_CONFIG": str(path)})
    assert code == 0
    assert "gl1" in out and "glusterfs://gl1.example/vol0" in out and "device_type=block" in out


def test_a_missing_config_exits_2_with_one_error_line(tmp_path: Path) -> None:
    code, out, err = _volumes("list", "--config", str(tmp_path / "absent.toml"))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {tmp_path / 'absent.toml'}: no such file")
    assert "Traceback" not in err


def test_a_bad_backend_key_exits_2_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "[backends.b]\nshare = 'localfs:///srv'\nshares = 1\n")
    code, _, err = _volumes("backends", "--config", str(path))
    assert code == 2
    assert f"error: {path}: backends.b.shares: is not a file driver option" in err


def test_a_database_password_on_the_command_line_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    code, _, err = _volumes("backends", "--config", str(path), "--persistence", "postgresql://u:s3cret@db/v")
    assert code == 2
    assert "--persistence" in err and "password_file" in err
    assert "s3cret" not in err


def test_a_database_password_in_the_environment_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    code, out, err = _volumes("backends", "--json", "--config", str(path),
                              env={"STORCONN_VOLUMES_DB": "postgresql://u:s3cret@db/v"})
    assert code == 0, err
    assert "s3cret" not in out + err


def test_connector_needs_no_configuration_and_names_its_agent(tmp_path: Path) -> None:
    code, out, err = _volumes("connector", "--json", "--agent", "http://127.0.0.1:1",
                              env={"STORCONN_VOLUMES_CONFIG": str(tmp_path / "absent.toml")})
    assert code == 0, err
    connector = json.loads(out)
    assert connector["agent"] == "http://127.0.0.1:1"
    assert {"platform", "os_type", "ip", "host", "multipath", "enforce_multipath", "do_local_attach"} <= set(connector)


def test_connect_with_an_unreadable_connector_file_exits_2(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    code, _, err = _volumes("connect", "v1", "--connector-file", str(tmp_path / "none.json"), "--config", str(path))
    assert code == 2 and "--connector-file: cannot read" in err
    bad = _write(tmp_path, "[1, 2]", "connector.json")
    code, _, err = _volumes("connect", "v1", "--connector-file", str(bad), "--config", str(path))
    assert code == 2 and "must hold a JSON object" in err


def test_the_storconn_command_starts_without_importing_the_volumes_library() -> None:
    """``storconn agent serve`` must never depend on the library (or SQLAlchemy) loading."""
    import subprocess
    import sys

    probe = ("import sys, storconn.cli.main; "
             "print(sorted(m for m in sys.modules if m.startswith(('storconn.volumes', 'sqlalchemy'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
