"""An in-memory note store, safe to share between the server's threads."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app


@dataclass(frozen=True)
class Note:
    id: int
    title: str
    body: str
    author: str
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class NoteStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._notes: dict[int, Note] = {}

    def add(self, title: str, body: str, author: str) -> Note:
        with self._lock:
            note = Note(next(self._ids), title, body, author)
            self._notes[note.id] = note
        return note

    def get(self, note_id: int) -> Note | None:
        with self._lock:
            return self._notes.get(note_id)

    def delete(self, note_id: int) -> Note | None:
        with self._lock:
            return self._notes.pop(note_id, None)

    def latest_first(self) -> list[Note]:
        with self._lock:
            return sorted(self._notes.values(), key=lambda note: note.id, reverse=True)


def get_store() -> NoteStore:
    """The store of the app handling the current request."""
    store: NoteStore = current_app.extensions["notes"]
    return store
