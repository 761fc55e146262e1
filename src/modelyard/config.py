"""Settings, resolved in one place and in one order.

This is the only module that reads the environment. Each setting is taken from,
in order: an explicit argument > a ``MODELYARD_*`` environment variable > the
project file ``modelyard.yaml`` > the default. Settings are resolved when an
application or client is built (:func:`load_settings`), never at import time.

=====================  ============================  ==========================================
setting                environment variable          default
=====================  ============================  ==========================================
home                   ``MODELYARD_HOME``            ``./.modelyard``
db_url                 ``MODELYARD_DB_URL``          ``sqlite:///<home>/modelyard.db``
artifacts_url          ``MODELYARD_ARTIFACTS_URL``   ``<home>/artifacts``
master_key             ``MODELYARD_MASTER_KEY``      none (artifacts are stored in the clear)
master_key_file        ``MODELYARD_MASTER_KEY_FILE`` none
mask_key               ``MODELYARD_MASK_KEY``        none (``hmac`` masking is refused)
mask_key_file          ``MODELYARD_MASK_KEY_FILE``   none
allow_pickle           ``MODELYARD_ALLOW_PICKLE``    false (never from the project file)
user                   ``MODELYARD_USER``            the login name
redis_url              ``MODELYARD_REDIS_URL``       ``redis://127.0.0.1:6379/0``
admin_token            ``MODELYARD_ADMIN_TOKEN``     none (server admin endpoints off)
=====================  ============================  ==========================================

The project file is ``modelyard.yaml`` in the working directory, or the file
named by ``MODELYARD_CONFIG``. It may not hold the master key or the mask key
itself (secrets do not belong in a file that gets committed), only
``master_key_file`` and ``mask_key_file``. The mask key is the secret of keyed
HMAC-SHA256 pseudonymisation at ingestion: 16 bytes or more, given as hex or base64.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.exceptions import ConfigError

__all__ = [
    "PROJECT_FILE",
    "Settings",
    "load_settings",
    "parse_mask_key",
    "parse_master_key",
    "worker_handoff",
]

PROJECT_FILE = "modelyard.yaml"
_FILE_KEYS = frozenset(
    {
        "home",
        "db_url",
        "artifacts_url",
        "master_key_file",
        "mask_key_file",
        "user",
        "redis_url",
    }
)
_FILE_TYPES: dict[str, tuple[type, ...]] = {}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one modelyard installation.

    Build it with :func:`load_settings`; components receive the fields they need
    as arguments rather than reading this object globally.
    """

    home: Path
    db_url: str
    artifacts_url: str
    master_key: bytes | None = field(default=None, repr=False)
    allow_pickle: bool = False
    user: str = "unknown"
    mask_key: bytes | None = field(default=None, repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    admin_token: str | None = field(default=None, repr=False)


def load_settings(
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    artifacts_url: str | None = None,
    master_key: bytes | str | None = None,
    allow_pickle: bool | None = None,
    user: str | None = None,
    mask_key: bytes | str | None = None,
    redis_url: str | None = None,
    admin_token: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting (argument > environment > ``modelyard.yaml`` > default).

    Args:
        home: Folder holding the embedded database and artifacts.
        db_url: SQLAlchemy URL of the metadata database.
        artifacts_url: Local folder or fsspec URL of the artifact store.
        master_key: 32-byte key (raw, base64 or hex) for encryption at rest.
        allow_pickle: Allow loading pickled models (off unless the operator opts in).
        user: Name recorded on runs.
        mask_key: Secret (16+ bytes, raw, hex or base64) for ``hmac`` masking of PII.
        redis_url: Redis for stream ingestion (``modelyard data consume``).
        env: Environment to read (defaults to ``os.environ``).
        cwd: Folder to look for ``modelyard.yaml`` in (defaults to the working directory).

    Returns:
        The resolved, immutable :class:`Settings`.

    Raises:
        ConfigError: A value is malformed (the message names the setting and its source).
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    project = _read_project_file(env, cwd)

    def pick(arg: Any, var: str, key: str) -> tuple[Any, str] | None:
        if arg is not None:
            return _check_nul(arg, f"{key} argument"), "argument"
        if env.get(var):
            return _check_nul(env[var], var), var
        if project.get(key) is not None:
            source = f"{PROJECT_FILE}:{key}"
            return _check_nul(project[key], source), source
        return None

    home_value = pick(home, "MODELYARD_HOME", "home")
    home_path = Path(home_value[0] if home_value else cwd / ".modelyard").expanduser()
    if not home_path.is_absolute():
        home_path = cwd / home_path
    home_path = home_path.resolve()

    db = pick(db_url, "MODELYARD_DB_URL", "db_url")
    arts = pick(artifacts_url, "MODELYARD_ARTIFACTS_URL", "artifacts_url")
    pickle_value = pick(allow_pickle, "MODELYARD_ALLOW_PICKLE", "allow_pickle")
    user_value = pick(user, "MODELYARD_USER", "user")
    redis_value = pick(redis_url, "MODELYARD_REDIS_URL", "redis_url")
    return Settings(
        home=home_path,
        db_url=str(db[0]) if db else f"sqlite:///{home_path / 'modelyard.db'}",
        artifacts_url=str(arts[0]) if arts else str(home_path / "artifacts"),
        master_key=_resolve_secret(master_key, env, project, cwd, _MASTER),
        allow_pickle=_parse_bool(*pickle_value) if pickle_value else False,
        user=str(user_value[0]) if user_value else _login_name(),
        mask_key=_resolve_secret(mask_key, env, project, cwd, _MASK),
        redis_url=str(redis_value[0]) if redis_value else Settings.redis_url,
        admin_token=admin_token or env.get("MODELYARD_ADMIN_TOKEN") or None,
    )


def parse_master_key(value: bytes | str, source: str = "master key") -> bytes:
    """Decode a 256-bit master key given as raw bytes, base64 or hex.

    Raises:
        ConfigError: The value does not decode to exactly 32 bytes.
    """
    key = _decode_key(value, lambda n: n == 32)
    if key is None:
        raise ConfigError(
            f"{source} is not a 256-bit key: expected 32 bytes as 64 hex characters or "
            'base64 (e.g. the output of `python -c "import os,base64;'
            'print(base64.b64encode(os.urandom(32)).decode())"`)',
            setting=source,
        )
    return key


def _decode_key(value: bytes | str, fits: Callable[[int], bool]) -> bytes | None:
    """Raw bytes of a fitting length as they are, else the first fitting hex/base64 decoding."""
    if isinstance(value, bytes) and fits(len(value)):
        return value
    text = (value.decode("ascii", "replace") if isinstance(value, bytes) else value).strip()
    for decode in (bytes.fromhex, _b64):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if fits(len(key)):
            return key
    return None


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def parse_mask_key(value: bytes | str, source: str = "mask key") -> bytes:
    """Decode the HMAC masking secret: 16 bytes or more, as raw bytes, hex or base64.

    Raises:
        ConfigError: The value is shorter than 16 bytes or not hex/base64.
    """
    key = _decode_key(value, lambda n: n >= 16)
    if key is not None:
        return key
    raise ConfigError(
        f"{source} is not a usable masking secret: expected 16 bytes or more as hex or "
        'base64 (e.g. the output of `python -c "import os;print(os.urandom(32).hex())"`)',
        setting=source,
    )


@dataclass(frozen=True)
class _Secret:
    name: str  # argument / yaml key
    var: str  # environment variable
    parse: Callable[[bytes | str, str], bytes]


_MASTER = _Secret("master_key", "MODELYARD_MASTER_KEY", parse_master_key)
_MASK = _Secret("mask_key", "MODELYARD_MASK_KEY", parse_mask_key)


def _resolve_secret(
    arg: bytes | str | None,
    env: Mapping[str, str],
    project: Mapping[str, Any],
    cwd: Path,
    secret: _Secret,
) -> bytes | None:
    if arg is not None:
        return secret.parse(arg, f"{secret.name} argument")
    if env.get(secret.var):
        return secret.parse(env[secret.var], secret.var)
    file_var, file_key = f"{secret.var}_FILE", f"{secret.name}_file"
    key_file = env.get(file_var) or project.get(file_key)
    if not key_file:
        return None
    _check_nul(key_file, f"{file_var} / {file_key}")
    path = Path(str(key_file)).expanduser()
    path = path if path.is_absolute() else cwd / path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {secret.name.replace('_', ' ')} file {path}: {exc.strerror}; "
            f"check {file_var} / {file_key}",
            path=str(path),
        ) from exc
    if secret is _MASTER and len(raw) == 32:
        return raw
    source = f"{secret.name.replace('_', ' ')} file {path}"
    try:  # a text file holds hex or base64; anything else is taken byte for byte
        return secret.parse(raw.decode("ascii").strip(), source)
    except (UnicodeDecodeError, ConfigError):
        return secret.parse(raw.strip(), source)


def _read_project_file(env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    explicit = env.get("MODELYARD_CONFIG")
    if explicit:
        _check_nul(explicit, "MODELYARD_CONFIG")
    path = cwd / Path(explicit).expanduser() if explicit else cwd / PROJECT_FILE
    if not path.is_file():
        if explicit:
            raise ConfigError(f"MODELYARD_CONFIG names {path}, which is not a file", path=str(path))
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", path=str(path)) from exc
    except RecursionError as exc:  # PyYAML recurses once per nesting level
        raise ConfigError(f"{path} is not valid YAML: nested too deeply", path=str(path)) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(loaded).__name__}")
    if "admin_token" in loaded:
        raise ConfigError(
            f"{path} holds admin_token: secrets do not belong in the project file; "
            "use the MODELYARD_ADMIN_TOKEN environment variable",
            path=str(path),
        )
    for secret in (_MASTER, _MASK):
        if secret.name in loaded:
            raise ConfigError(
                f"{path} holds {secret.name}: secrets do not belong in the project file; "
                f"use {secret.name}_file or the {secret.var} environment variable",
                path=str(path),
            )
    if "allow_pickle" in loaded:
        # A project file travels with a repository: loading pickles (code execution)
        # must be the operator's own decision, made where they run modelyard.
        raise ConfigError(
            f"{path} sets allow_pickle: a project file cannot enable loading pickled "
            "models; the operator opts in with MODELYARD_ALLOW_PICKLE=1 or allow_pickle=True",
            path=str(path),
        )
    unknown = sorted(str(key) for key in loaded if key not in _FILE_KEYS)
    if unknown:
        names = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if unknown[10:] else "")
        raise ConfigError(
            f"{path}: unknown setting(s) {names}; valid: {', '.join(sorted(_FILE_KEYS))}",
            path=str(path),
        )
    for key, value in loaded.items():
        types = _FILE_TYPES.get(key, (str,))
        if value is not None and not isinstance(value, types):
            raise ConfigError(
                f"{path}: {key} must be {' or '.join(t.__name__ for t in types)}, "
                f"not {type(value).__name__} (quote the value)",
                path=str(path),
            )
    return loaded


def _check_nul(value: Any, source: str) -> Any:
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(text, str) and "\0" in text:
        raise ConfigError(f"{source} contains a NUL character; no setting may hold one")
    return value


def _parse_bool(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{source}={value!r} is not a boolean; use 1/0, true/false, yes/no")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def worker_handoff(name: str) -> str | None:
    """A value a parent process left for the worker processes it starts.

    ``modelyard serve --workers N`` hands its resolved options to the uvicorn
    workers it spawns through ``MODELYARD_HANDOFF_<NAME>``; this is where they
    read it back (config.py is the one module that reads the environment).
    """
    return os.environ.get(f"MODELYARD_HANDOFF_{name.upper()}")
