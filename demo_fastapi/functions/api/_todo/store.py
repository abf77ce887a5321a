"""Todos in SQLite, behind a lock so the server's threads can share one connection."""

from __future__ import annotations

import sqlite3
import threading

from .models import Todo, TodoCreate, TodoUpdate

SCHEMA = """
CREATE TABLE todo (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
)
"""


class TodoStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, database: str) -> TodoStore:
        # FastAPI runs `def` endpoints in a thread pool: allow other threads, guard with the lock.
        connection = sqlite3.connect(database, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute(SCHEMA)
        return cls(connection)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def list_all(self) -> list[Todo]:
        with self._lock:
            rows = self._db.execute("SELECT id, title, done FROM todo ORDER BY id").fetchall()
        return [Todo.model_validate(dict(row)) for row in rows]

    def get(self, todo_id: int) -> Todo | None:
        with self._lock:
            return self._get(todo_id)

    def add(self, todo: TodoCreate) -> Todo:
        with self._lock, self._db:  # `with connection:` commits, or rolls back on error
            cursor = self._db.execute(
                "INSERT INTO todo (title, done) VALUES (?, ?)", (todo.title, todo.done)
            )
        return Todo(id=cursor.lastrowid, title=todo.title, done=todo.done)

    def update(self, todo_id: int, changes: TodoUpdate) -> Todo | None:
        with self._lock, self._db:
            todo = self._get(todo_id)
            if todo is None:
                return None
            todo = todo.model_copy(update=changes.model_dump(exclude_unset=True, exclude_none=True))
            self._db.execute(
                "UPDATE todo SET title = ?, done = ? WHERE id = ?", (todo.title, todo.done, todo.id)
            )
        return todo

    def delete(self, todo_id: int) -> bool:
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM todo WHERE id = ?", (todo_id,))
        return cursor.rowcount > 0

    def _get(self, todo_id: int) -> Todo | None:
        query = "SELECT id, title, done FROM todo WHERE id = ?"
        row = self._db.execute(query, (todo_id,)).fetchone()
        return Todo.model_validate(dict(row)) if row is not None else None
