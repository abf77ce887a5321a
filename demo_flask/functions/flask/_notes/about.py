"""The about blueprint: what the mounted app sees of its own URL."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

bp = Blueprint("about", __name__, url_prefix="/about")


@bp.get("/")
def index():
    urls = {
        "request.script_root": request.script_root,
        "request.path": request.path,
        "request.url": request.url,
        'url_for("notes.index")': url_for("notes.index"),
        'url_for("notes.detail", note_id=1)': url_for("notes.detail", note_id=1),
        'url_for("static", filename="style.css")': url_for("static", filename="style.css"),
        'url_for("about.index", _external=True)': url_for("about.index", _external=True),
    }
    return render_template("about.html", urls=urls)
