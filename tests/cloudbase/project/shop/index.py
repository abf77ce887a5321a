"""`shop` at /api/shop: a Flask app as the target, as the seed's Express example
(`app.get('/profile')`, `app.get('/list')`, `exports.main = app`)."""

from flask import Flask, jsonify, request, url_for

app = Flask(__name__)


@app.get("/profile")
def profile():
    return jsonify(user="profile")


@app.get("/list")
def users():
    return jsonify(users=[])


@app.get("/where")
def where():
    return jsonify(
        script_root=request.script_root,
        path=request.path,
        full_path=request.full_path,
        profile=url_for("profile"),
        external=url_for("users", _external=True),
    )


@app.post("/orders")
def orders():
    return jsonify(got=request.get_json()), 201


main = app
