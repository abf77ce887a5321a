"""The notes blueprint: list, add (POST-redirect-GET), show and delete notes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from .store import get_store

bp = Blueprint("notes", __name__)

LIMITS = {"title": 80, "body": 2000, "author": 40}


@bp.get("/")
def index():
    # The author's name is remembered in the session from the last note they added.
    form = {"title": "", "body": "", "author": session.get("author", "")}
    return render_template(
        "notes/index.html", notes=get_store().latest_first(), form=form, errors={}
    )


@bp.post("/notes")
def create():
    form = {name: request.form.get(name, "").strip() for name in LIMITS}
    errors = validate(form)
    if errors:
        # Show the form again with what was typed and what is wrong; nothing is stored.
        flash("The note was not saved: fix the fields below.", "error")
        page = render_template(
            "notes/index.html", notes=get_store().latest_first(), form=form, errors=errors
        )
        return page, 400

    author = form["author"] or "anonymous"
    session["author"] = author  # pre-fill the form next time
    note = get_store().add(form["title"], form["body"], author)
    flash(f"Note “{note.title}” added.", "success")
    # 303 See Other: the browser follows with a GET, so reloading the page never posts twice.
    return redirect(url_for("notes.index"), code=303)


@bp.get("/notes/<int:note_id>")
def detail(note_id: int):
    note = get_store().get(note_id)
    if note is None:
        abort(404)
    return render_template("notes/detail.html", note=note)


@bp.post("/notes/<int:note_id>/delete")
def delete(note_id: int):
    note = get_store().delete(note_id)
    if note is None:
        abort(404)
    flash(f"Note “{note.title}” deleted.", "success")
    return redirect(url_for("notes.index"), code=303)


def validate(form: dict[str, str]) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the form is valid."""
    errors = {}
    if not form["title"]:
        errors["title"] = "A title is required."
    for name, limit in LIMITS.items():
        if len(form[name]) > limit:
            errors[name] = f"Use at most {limit} characters."
    return errors
