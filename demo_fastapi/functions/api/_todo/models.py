"""The API's pydantic models: what clients send and what they get back."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    done: bool = False


class TodoUpdate(BaseModel):
    """A partial update: fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    done: bool | None = None


class Todo(BaseModel):
    id: int = Field(examples=[1])
    title: str = Field(examples=["Water the plants"])
    done: bool = False
