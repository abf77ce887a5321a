"""The /todos router: create, read, update and delete todos."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from .models import Todo, TodoCreate, TodoUpdate
from .store import TodoStore

router = APIRouter(prefix="/todos", tags=["todos"])


def get_store(request: Request) -> TodoStore:
    # The store the lifespan opened, handed to each request in `request.state`.
    return request.state.store


Store = Annotated[TodoStore, Depends(get_store)]


@router.get("")
def list_todos(store: Store) -> list[Todo]:
    return store.list_all()


@router.post("", status_code=status.HTTP_201_CREATED)
def create_todo(todo: TodoCreate, store: Store, request: Request, response: Response) -> Todo:
    created = store.add(todo)
    response.headers["Location"] = str(request.url_for("get_todo", todo_id=created.id))
    return created


@router.get("/{todo_id}")
def get_todo(todo_id: int, store: Store) -> Todo:
    todo = store.get(todo_id)
    if todo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    return todo


@router.patch("/{todo_id}")
def update_todo(todo_id: int, changes: TodoUpdate, store: Store) -> Todo:
    todo = store.update(todo_id, changes)
    if todo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    return todo


@router.delete("/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: int, store: Store) -> None:
    if not store.delete(todo_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
