"""Settings: argument > MODELYARD_* environment > modelyard.yaml > default, and bad input."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from modelyard import config
from modelyard.config import PROJECT_FILE, Settings, load_settings, parse_master_key
from modelyard.exceptions import ConfigError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
VALID_FILE_KEYS = (
    "valid: artifacts_url, db_url, home, mask_key_file, master_key_file, redis_url, user"
)


def load(cwd: Path, env: dict[str, str] | None = None, **kwargs: object) -> Settings:
    return load_settings(env=env or {}, cwd=cwd, **kwargs)  # type: ignore[arg-type]


def write_project(folder: Path, text: str) -> Path:
    path = folder / PROJECT_FILE
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults -----------------------------------------------------------------


def test_defaults_live_under_dot_modelyard_in_the_working_folder(tmp_path: Path) -> None:
    settings = load(tmp_path)
    home = tmp_path.resolve() / ".modelyard"
    assert settings.home == home
    assert settings.db_url == f"sqlite:///{home / 'modelyard.db'}"
    assert settings.artifacts_url == str(home / "artifacts")
    assert settings.master_key is None
    assert settings.allow_pickle is False


def test_db_and_artifacts_follow_an_explicit_home(tmp_path: Path) -> None:
    settings = load(tmp_path, home=tmp_path / "h")
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'h' / 'modelyard.db'}"
    assert settings.artifacts_url == str(tmp_path.resolve() / "h" / "artifacts")


def test_relative_home_is_resolved_against_cwd(tmp_path: Path) -> None:
    assert load(tmp_path, {"MODELYARD_HOME": "data/../state"}).home == tmp_path.resolve() / "state"
    write_project(tmp_path, "home: from-file\n")
    assert load(tmp_path).home == tmp_path.resolve() / "from-file"


def test_home_expands_the_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert load(tmp_path, {"MODELYARD_HOME": "~/yard"}).home == tmp_path.resolve() / "me" / "yard"


def test_user_defaults_to_the_login_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config.getpass, "getuser", lambda: "alice")
    assert load(tmp_path).user == "alice"


def test_user_is_unknown_without_a_login_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_user() -> str:
        raise OSError("no login")

    monkeypatch.setattr(config.getpass, "getuser", no_user)
    assert load(tmp_path).user == "unknown"


def test_settings_are_immutable_and_hide_the_key(tmp_path: Path) -> None:
    settings = load(tmp_path, master_key=KEY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.home = tmp_path  # type: ignore[misc]
    assert KEY.hex() not in repr(settings)
    assert "master_key" not in repr(settings)


def test_reading_settings_does_not_create_anything(tmp_path: Path) -> None:
    load(tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- resolution order -----------------------------------------------------------

ORDERED = [
    ("db_url", "MODELYARD_DB_URL", "sqlite:///arg.db", "sqlite:///env.db", "sqlite:///file.db"),
    ("artifacts_url", "MODELYARD_ARTIFACTS_URL", "memory://arg", "memory://env", "memory://file"),
    ("user", "MODELYARD_USER", "arg-user", "env-user", "file-user"),
]


@pytest.mark.parametrize(("key", "var", "arg", "env", "file"), ORDERED)
def test_argument_beats_env_beats_file(
    tmp_path: Path, key: str, var: str, arg: str, env: str, file: str
) -> None:
    write_project(tmp_path, f"{key}: '{file}'\n")
    assert getattr(load(tmp_path, {var: env}, **{key: arg}), key) == arg
    assert getattr(load(tmp_path, {var: env}), key) == env
    assert getattr(load(tmp_path), key) == file


def test_home_order(tmp_path: Path) -> None:
    write_project(tmp_path, "home: file\n")
    env = {"MODELYARD_HOME": str(tmp_path / "env")}
    assert load(tmp_path, env, home=tmp_path / "arg").home == tmp_path.resolve() / "arg"
    assert load(tmp_path, env).home == tmp_path.resolve() / "env"
    assert load(tmp_path).home == tmp_path.resolve() / "file"


def test_allow_pickle_order(tmp_path: Path) -> None:
    assert load(tmp_path, {"MODELYARD_ALLOW_PICKLE": "1"}, allow_pickle=False).allow_pickle is False
    assert load(tmp_path, {"MODELYARD_ALLOW_PICKLE": "1"}).allow_pickle is True
    assert load(tmp_path, {"MODELYARD_ALLOW_PICKLE": "0"}).allow_pickle is False
    assert load(tmp_path).allow_pickle is False


def test_a_project_file_cannot_enable_pickles(tmp_path: Path) -> None:
    # The file travels with a repository; code execution on load is the operator's call.
    write_project(tmp_path, "allow_pickle: true\n")
    with pytest.raises(ConfigError, match="MODELYARD_ALLOW_PICKLE"):
        load(tmp_path)


def test_an_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    write_project(tmp_path, "db_url: sqlite:///file.db\n")
    assert load(tmp_path, {"MODELYARD_DB_URL": ""}).db_url == "sqlite:///file.db"


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_USER", "from-os-environ")
    assert load_settings(cwd=tmp_path).user == "from-os-environ"


def test_a_null_in_the_file_falls_back_to_the_default(tmp_path: Path) -> None:
    write_project(tmp_path, "db_url: null\nuser: ~\n")
    assert load(tmp_path).db_url.startswith("sqlite:///")


# -- the project file --------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "~\n"])
def test_an_empty_project_file_means_defaults(tmp_path: Path, text: str) -> None:
    defaults = load(tmp_path)
    write_project(tmp_path, text)
    assert load(tmp_path) == defaults


def test_modelyard_config_names_the_file(tmp_path: Path) -> None:
    write_project(tmp_path, "user: ignored\n")
    other = tmp_path / "conf" / "team.yaml"
    other.parent.mkdir()
    other.write_text("user: from-config\n", encoding="utf-8")
    assert load(tmp_path, {"MODELYARD_CONFIG": str(other)}).user == "from-config"
    assert load(tmp_path, {"MODELYARD_CONFIG": "conf/team.yaml"}).user == "from-config"


def test_a_missing_modelyard_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MODELYARD_CONFIG names .*missing\.yaml, which is not"):
        load(tmp_path, {"MODELYARD_CONFIG": str(tmp_path / "missing.yaml")})
    with pytest.raises(ConfigError, match="not a file"):
        load(tmp_path, {"MODELYARD_CONFIG": str(tmp_path)})


def test_a_folder_called_modelyard_yaml_is_not_a_project_file(tmp_path: Path) -> None:
    (tmp_path / PROJECT_FILE).mkdir()
    assert load(tmp_path).user


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    path = write_project(tmp_path, "home: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML") as info:
        load(tmp_path)
    assert str(path) in str(info.value)
    assert info.value.details == {"path": str(path)}


def test_non_utf8_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / PROJECT_FILE).write_bytes(b"home: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path)


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    write_project(tmp_path, "home: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / PROJECT_FILE).write_bytes(b"\xef\xbb\xbfuser: bom\n")
    assert load(tmp_path).user == "bom"


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")]
)
def test_the_file_must_hold_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    write_project(tmp_path, text)
    with pytest.raises(ConfigError, match=f"must hold a mapping of settings, not {kind}"):
        load(tmp_path)


def test_unknown_keys_are_named_with_the_valid_ones(tmp_path: Path) -> None:
    write_project(tmp_path, "home: x\ndb-url: y\ncolour: blue\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "unknown setting(s) colour, db-url;" in message
    assert message.endswith(VALID_FILE_KEYS)


def test_non_string_keys_are_unknown_settings(tmp_path: Path) -> None:
    write_project(tmp_path, "1: x\nnull: y\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) 1, None;"):
        load(tmp_path)


def test_a_master_key_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    write_project(tmp_path, f"master_key: {KEY.hex()}\n")
    with pytest.raises(ConfigError, match="secrets do not belong in the project file") as info:
        load(tmp_path)
    assert KEY.hex() not in str(info.value)
    assert "master_key_file" in str(info.value)
    assert "MODELYARD_MASTER_KEY" in str(info.value)


def test_the_master_key_is_refused_even_when_an_argument_gives_one(tmp_path: Path) -> None:
    write_project(tmp_path, f"master_key: {KEY.hex()}\n")
    with pytest.raises(ConfigError, match="holds master_key"):
        load(tmp_path, master_key=KEY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("home: [a, b]\n", "home must be str, not list"),
        ("home: 5\n", "home must be str, not int"),
        ("db_url: {a: 1}\n", "db_url must be str, not dict"),
        ("master_key_file: [k]\n", "master_key_file must be str, not list"),
        ("user: 3.5\n", "user must be str, not float"),
    ],
)
def test_values_of_the_wrong_type_are_refused(tmp_path: Path, text: str, message: str) -> None:
    write_project(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path)


# -- master key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        KEY,
        KEY.hex(),
        KEY.hex().upper(),
        f"  {KEY.hex()}\n",
        base64.b64encode(KEY).decode(),
        base64.b64encode(KEY),
        KEY.hex().encode(),
    ],
    ids=["raw", "hex", "HEX", "hex-padded", "base64", "base64-bytes", "hex-bytes"],
)
def test_parse_master_key_accepts_raw_hex_and_base64(value: bytes | str) -> None:
    assert parse_master_key(value) == KEY


@pytest.mark.parametrize(
    "value",
    [
        b"",
        "",
        KEY[:31],
        KEY + b"!",
        KEY.hex()[:-2],
        KEY.hex() + "00",
        base64.b64encode(KEY[:16]).decode(),
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # '-'/'_' are not standard base64
        "zz" * 32,
        "correct horse battery staple",
    ],
)
def test_parse_master_key_refuses_other_lengths(value: bytes | str) -> None:
    with pytest.raises(ConfigError, match="MY_SOURCE is not a 256-bit key") as info:
        parse_master_key(value, "MY_SOURCE")
    assert info.value.details == {"setting": "MY_SOURCE"}
    assert "64 hex characters or base64" in str(info.value)


def test_master_key_from_each_source(tmp_path: Path) -> None:
    assert load(tmp_path, master_key=KEY.hex()).master_key == KEY
    assert load(tmp_path, {"MODELYARD_MASTER_KEY": KEY.hex()}).master_key == KEY
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    assert load(tmp_path, {"MODELYARD_MASTER_KEY_FILE": str(key_file)}).master_key == KEY
    write_project(tmp_path, "master_key_file: key\n")
    assert load(tmp_path).master_key == KEY


def test_master_key_order(tmp_path: Path) -> None:
    (tmp_path / "file-key").write_bytes(OTHER_KEY)
    (tmp_path / "env-key").write_text(base64.b64encode(OTHER_KEY[::-1]).decode() + "\n")
    write_project(tmp_path, "master_key_file: file-key\n")
    env = {"MODELYARD_MASTER_KEY_FILE": "env-key"}
    assert load(tmp_path).master_key == OTHER_KEY
    assert load(tmp_path, env).master_key == OTHER_KEY[::-1]
    env["MODELYARD_MASTER_KEY"] = KEY.hex()
    assert load(tmp_path, env).master_key == KEY
    assert load(tmp_path, env, master_key=OTHER_KEY).master_key == OTHER_KEY


def test_a_bad_lower_priority_key_is_not_read(tmp_path: Path) -> None:
    env = {"MODELYARD_MASTER_KEY": "not a key", "MODELYARD_MASTER_KEY_FILE": "missing"}
    assert load(tmp_path, env, master_key=KEY).master_key == KEY


@pytest.mark.parametrize(
    "content",
    [KEY.hex().encode() + b"\n", base64.b64encode(KEY) + b"\r\n", b"  " + KEY.hex().encode()],
    ids=["hex", "base64-crlf", "hex-indented"],
)
def test_a_text_key_file_may_end_with_whitespace(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "key").write_bytes(content)
    assert load(tmp_path, {"MODELYARD_MASTER_KEY_FILE": "key"}).master_key == KEY


def test_a_raw_key_file_is_taken_byte_for_byte(tmp_path: Path) -> None:
    raw = b"\n" + bytes(range(1, 30)) + b" \t"  # whitespace at both ends is key material
    assert len(raw) == 32
    (tmp_path / "key").write_bytes(raw)
    assert load(tmp_path, {"MODELYARD_MASTER_KEY_FILE": "key"}).master_key == raw


def test_a_key_file_path_expands_the_user_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "key").write_bytes(KEY)
    assert load(tmp_path / "x", {"MODELYARD_MASTER_KEY_FILE": "~/key"}).master_key == KEY


@pytest.mark.parametrize("size", [0, 16, 31, 33, 1_000_000])
def test_a_key_file_of_the_wrong_length_names_the_file(tmp_path: Path, size: int) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"k" * size)
    with pytest.raises(ConfigError, match=f"master key file {key_file} is not a 256-bit key"):
        load(tmp_path, {"MODELYARD_MASTER_KEY_FILE": str(key_file)})


def test_a_wrong_length_env_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^MODELYARD_MASTER_KEY is not a 256-bit key"):
        load(tmp_path, {"MODELYARD_MASTER_KEY": KEY.hex()[:32]})
    with pytest.raises(ConfigError, match=r"^master_key argument is not a 256-bit key"):
        load(tmp_path, master_key=KEY[:16])


@pytest.mark.parametrize("name", ["missing", "."], ids=["missing", "a-folder"])
def test_an_unreadable_key_file_is_a_config_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot read the master key file") as info:
        load(tmp_path, {"MODELYARD_MASTER_KEY_FILE": name})
    assert "MODELYARD_MASTER_KEY_FILE / master_key_file" in str(info.value)
    assert info.value.details == {"path": str(tmp_path / name)}


# -- allow_pickle -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        (" YES ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_allow_pickle_parses_booleans(tmp_path: Path, value: str, expected: bool) -> None:
    assert load(tmp_path, {"MODELYARD_ALLOW_PICKLE": value}).allow_pickle is expected


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "yes please", "-1", "\uff11"])
def test_allow_pickle_refuses_other_words(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"MODELYARD_ALLOW_PICKLE=.* is not a boolean; use 1/0"):
        load(tmp_path, {"MODELYARD_ALLOW_PICKLE": value})


@pytest.mark.parametrize("text", ["yes", "false", "1", "0", "'on'"])
def test_allow_pickle_is_refused_in_the_file_whatever_its_value(tmp_path: Path, text: str) -> None:
    write_project(tmp_path, f"allow_pickle: {text}\n")
    with pytest.raises(ConfigError, match="cannot enable loading pickled models"):
        load(tmp_path)


# -- hostile and huge values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({"MODELYARD_HOME": "a\x00b"}, "MODELYARD_HOME"),
        ({"MODELYARD_DB_URL": "sqlite:///a\x00b"}, "MODELYARD_DB_URL"),
        ({"MODELYARD_ARTIFACTS_URL": "a\x00b"}, "MODELYARD_ARTIFACTS_URL"),
        ({"MODELYARD_USER": "a\x00b"}, "MODELYARD_USER"),
        ({"MODELYARD_ALLOW_PICKLE": "1\x00"}, "MODELYARD_ALLOW_PICKLE"),
        ({"MODELYARD_MASTER_KEY_FILE": "k\x00"}, "MODELYARD_MASTER_KEY_FILE"),
        ({"MODELYARD_CONFIG": "c\x00.yaml"}, "MODELYARD_CONFIG"),
    ],
)
def test_a_nul_in_the_environment_is_a_config_error(
    tmp_path: Path, env: dict[str, str], source: str
) -> None:
    with pytest.raises(ConfigError, match=f"{source}.* contains a NUL character"):
        load(tmp_path, env)


def test_a_nul_in_an_argument_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="home argument contains a NUL"):
        load(tmp_path, home="a\x00b")
    with pytest.raises(ConfigError, match="home argument contains a NUL"):
        load(tmp_path, home=Path("a\x00b"))
    with pytest.raises(ConfigError, match="not a 256-bit key"):
        load(tmp_path, master_key="\x00" * 64)


def test_a_nul_in_the_file_is_a_config_error(tmp_path: Path) -> None:
    write_project(tmp_path, 'home: "a\\0b"\n')
    with pytest.raises(ConfigError, match=r"modelyard\.yaml:home contains a NUL"):
        load(tmp_path)


def test_a_megabyte_of_padding_is_read(tmp_path: Path) -> None:
    write_project(tmp_path, "# padding\n" * 100_000 + "user: padded\n")
    assert (tmp_path / PROJECT_FILE).stat().st_size > 1_000_000
    assert load(tmp_path).user == "padded"


def test_a_megabyte_value_is_kept_whole(tmp_path: Path) -> None:
    write_project(tmp_path, f"user: {'u' * 1_000_000}\n")
    assert len(load(tmp_path).user) == 1_000_000


def test_a_megabyte_of_unknown_keys_gives_a_short_message(tmp_path: Path) -> None:
    write_project(tmp_path, "".join(f"key{i}: v\n" for i in range(5_000)))
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) key0, key1, .* and 4990 more;"):
        load(tmp_path)


def test_alias_bombs_are_refused_before_expansion(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{b}: &{b} [{', '.join(['*' + a] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    write_project(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load(tmp_path)


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    write_project(tmp_path, "home: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path)


MASK_KEY = b"m" * 24


def test_mask_key_from_each_source(tmp_path: Path) -> None:
    assert load(tmp_path).mask_key is None
    assert load(tmp_path, mask_key=MASK_KEY).mask_key == MASK_KEY
    assert load(tmp_path, mask_key=MASK_KEY.hex()).mask_key == MASK_KEY
    assert load(tmp_path, {"MODELYARD_MASK_KEY": MASK_KEY.hex()}).mask_key == MASK_KEY
    (tmp_path / "mask").write_text(MASK_KEY.hex() + "\n")
    assert load(tmp_path, {"MODELYARD_MASK_KEY_FILE": "mask"}).mask_key == MASK_KEY
    write_project(tmp_path, "mask_key_file: mask\n")
    assert load(tmp_path).mask_key == MASK_KEY


def test_mask_key_order(tmp_path: Path) -> None:
    other = b"o" * 16
    env = {"MODELYARD_MASK_KEY": other.hex()}
    assert load(tmp_path, env).mask_key == other
    assert load(tmp_path, env, mask_key=MASK_KEY).mask_key == MASK_KEY


@pytest.mark.parametrize("value", ["short", b"x" * 15, "00" * 15, ""])
def test_a_short_or_undecodable_mask_key_is_refused(tmp_path: Path, value: str | bytes) -> None:
    with pytest.raises(ConfigError, match="16 bytes or more"):
        load(tmp_path, mask_key=value)


def test_a_mask_key_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    write_project(tmp_path, f"mask_key: {MASK_KEY.hex()}\n")
    with pytest.raises(ConfigError, match="holds mask_key") as info:
        load(tmp_path)
    assert MASK_KEY.hex() not in str(info.value)
    assert "MODELYARD_MASK_KEY" in str(info.value)


def test_settings_hide_the_mask_key(tmp_path: Path) -> None:
    assert MASK_KEY.hex() not in repr(load(tmp_path, mask_key=MASK_KEY))
    assert "mask_key" not in repr(load(tmp_path, mask_key=MASK_KEY))


def test_an_unreadable_mask_key_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MODELYARD_MASK_KEY_FILE"):
        load(tmp_path, {"MODELYARD_MASK_KEY_FILE": "missing"})


def test_redis_url_order(tmp_path: Path) -> None:
    assert load(tmp_path).redis_url == "redis://127.0.0.1:6379/0"
    write_project(tmp_path, "redis_url: redis://file:6379/1\n")
    assert load(tmp_path).redis_url == "redis://file:6379/1"
    env = {"MODELYARD_REDIS_URL": "redis://env:6379/2"}
    assert load(tmp_path, env).redis_url == "redis://env:6379/2"
    assert load(tmp_path, env, redis_url="redis://arg/3").redis_url == "redis://arg/3"
