"""One cache of compiled SQL for every engine in the process.

SQLAlchemy keeps compiled statements per engine, keyed by the engine's dialect object, so a process that opens
a database again (a command run in-process, a second database, a test) compiled every statement again: about a
quarter of the work of a short command. Engines of the same dialect and server compile a statement to the same
SQL, so this cache keys by what decides the SQL (the dialect's class, the server's version and the settings that
change the text) instead of by the dialect object. Any other key is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.util import LRUCache

STATEMENTS_KEPT = 2000
"""Compiled statements kept in the process (SQLAlchemy keeps 500 per engine): every statement reviewflow runs on
both databases, with room to spare."""

_SETTINGS = ("server_version_info", "paramstyle", "positional", "label_length", "max_identifier_length",
             "supports_native_boolean", "use_insertmanyvalues", "insert_executemany_returning")
"""What, beside its class, makes a dialect write a statement differently."""


def _dialect_key(dialect: Dialect) -> tuple[Any, ...]:
    return (type(dialect), *(getattr(dialect, name, None) for name in _SETTINGS))


class SharedCompiledCache(MutableMapping[Any, Any]):
    """The `compiled_cache` execution option of every engine: SQLAlchemy's key `(dialect, statement key, ...)`
    with the dialect object replaced by what it compiles like."""

    def __init__(self, size: int = STATEMENTS_KEPT) -> None:
        self._kept: LRUCache[Any, Any] = LRUCache(size)

    @staticmethod
    def _key(key: Any) -> Any:
        if isinstance(key, tuple) and key and isinstance(key[0], Dialect):
            return (_dialect_key(key[0]), *key[1:])
        return key

    def __getitem__(self, key: Any) -> Any:
        return self._kept[self._key(key)]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._kept.get(self._key(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._kept[self._key(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._kept[self._key(key)]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._kept))

    def __len__(self) -> int:
        return len(self._kept)


COMPILED = SharedCompiledCache()
"""The process's cache (store/db.py gives it to every engine it makes)."""
