"""The SQLite store of item metadata: id -> path, labels, pool position, and stored thumbnails.

Schema (``meta.sqlite``)::

    items(id INTEGER PRIMARY KEY, path TEXT, labels TEXT NOT NULL, position INTEGER)
    thumbnails(id INTEGER PRIMARY KEY, mime TEXT NOT NULL, data BLOB NOT NULL)

``labels`` is a JSON list of class names (or of label indices where no names are known); ``path`` is the
image file (NULL for images held in memory, such as Fashion-MNIST); ``position`` is the item's position in
the data set pool for dataset builds (else NULL). ``thumbnails`` holds a small PNG for every item that has
no file, so the service can show it without loading the data set.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from csdh.errors import UserError

METADATA_FILE = "meta.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    path TEXT,
    labels TEXT NOT NULL,
    position INTEGER
);
CREATE TABLE IF NOT EXISTS thumbnails (
    id INTEGER PRIMARY KEY,
    mime TEXT NOT NULL,
    data BLOB NOT NULL
);
"""

Label = Union[str, int]


@dataclass(frozen=True)
class Item:
    """One indexed image.

    Attributes:
        id: its id in the index.
        path: the image file, or None for an in-memory data set image.
        labels: class names (or label indices where no names are known).
        position: the position in the data set pool (dataset builds), else None.
    """

    id: int
    path: Optional[str]
    labels: Tuple[Label, ...] = ()
    position: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "path": self.path, "labels": list(self.labels), "position": self.position}


class MetadataStore:
    """Item metadata in SQLite (one connection, guarded by a lock so that threads may share it).

    Args:
        path: the database file.
        readonly: open read-only (the search service); otherwise the schema is created if missing.
    """

    def __init__(self, path: Union[str, Path], readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if readonly:
            if not self.path.is_file():
                raise UserError("missing index metadata file", self.path)
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.executescript(_SCHEMA)
            self._db.commit()
        try:
            self._db.execute("SELECT id, path, labels, position FROM items LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise UserError(f"unreadable index metadata: {exc}", self.path) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "MetadataStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes (one transaction per call)
    def add(self, items: Iterable[Item], thumbnails: Sequence[Tuple[int, str, bytes]] = ()) -> None:
        """Insert items (and ``(id, mime, data)`` thumbnails) in one transaction."""
        rows = [(it.id, it.path, json.dumps(list(it.labels)), it.position) for it in items]
        with self._lock, self._db:
            self._db.executemany("INSERT INTO items (id, path, labels, position) VALUES (?, ?, ?, ?)", rows)
            if thumbnails:
                self._db.executemany("INSERT INTO thumbnails (id, mime, data) VALUES (?, ?, ?)",
                                     [(int(i), m, sqlite3.Binary(d)) for i, m, d in thumbnails])

    def remove(self, ids: Iterable[int]) -> int:
        """Delete items and their thumbnails in one transaction; returns the number of items deleted."""
        rows = [(int(i),) for i in ids]
        with self._lock, self._db:
            before = self._db.total_changes
            self._db.executemany("DELETE FROM items WHERE id = ?", rows)
            n = self._db.total_changes - before
            self._db.executemany("DELETE FROM thumbnails WHERE id = ?", rows)
        return int(n)

    # ------------------------------------------------------------------ reads
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def get(self, item_id: int) -> Optional[Item]:
        with self._lock:
            row = self._db.execute("SELECT id, path, labels, position FROM items WHERE id = ?",
                                   (int(item_id),)).fetchone()
        return None if row is None else _item(row)

    def get_many(self, ids: Sequence[int]) -> Dict[int, Item]:
        """Items of ``ids`` (missing ids are absent from the result)."""
        out: Dict[int, Item] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(f"SELECT id, path, labels, position FROM items WHERE id IN ({marks})",
                                        chunk).fetchall()
            for row in rows:
                out[int(row[0])] = _item(row)
        return out

    def all_ids(self) -> List[int]:
        with self._lock:
            return [int(r[0]) for r in self._db.execute("SELECT id FROM items ORDER BY id")]

    def thumbnail(self, item_id: int) -> Optional[Tuple[str, bytes]]:
        """The stored ``(mime, data)`` thumbnail of an item, or None."""
        with self._lock:
            row = self._db.execute("SELECT mime, data FROM thumbnails WHERE id = ?", (int(item_id),)).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def count_thumbnails(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM thumbnails").fetchone()[0])


def _item(row: Tuple[Any, ...]) -> Item:
    labels = json.loads(row[2]) if row[2] else []
    return Item(id=int(row[0]), path=row[1], labels=tuple(labels), position=None if row[3] is None else int(row[3]))
