"""One OpenAPI 3.1 document for a tree: its paths, parameters, operations and summaries
match the files; what has no operation is listed in extensions; it validates, is the same
bytes every time, and is built without importing a module."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import write_tree

from pagesfn import Pages
from pagesfn.routing import scan
from pagesfn.routing.openapi import merge_mounted, openapi_document
from pagesfn.serving.cli import main

validator = pytest.importorskip("openapi_spec_validator")

TREE = {
    "index.py": '''
        """The home page."""

        def on_request_get(context):
            return "home"
    ''',
    "api/users/[id].py": '''
        """Users, one at a time."""

        raise RuntimeError("importing a route file is not how its document is built")

        async def on_request_get(context):
            """Get a user.

            The user is named by its id, a path segment.
            """

        def on_request_delete(context):
            return None
    ''',
    "api/files/[[path]].py": """
        def on_request(context):
            return context.params["path"]
    """,
    "chat.py": '''
        async def on_websocket(socket):
            """Echo what is sent, in capitals."""

        def on_request_get(context):
            return "use a WebSocket"
    ''',
    "shop/[[default]].py": """
        from flask import Flask

        app = Flask(__name__)
    """,
    "_middleware.py": """
        async def on_request(context):
            return await context.next()
    """,
}


@pytest.fixture
def document(tmp_path: Path) -> dict:
    before = set(sys.modules)
    built = openapi_document(scan(str(write_tree(tmp_path / "functions", TREE))), title="site")
    assert not [name for name in set(sys.modules) - before if "pagesfn_routes" in name]
    return built


def test_the_document_validates_as_openapi_3_1(document: dict) -> None:
    validator.validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "site", "version": "1.0.0"}


def test_paths_and_operations_match_the_files(document: dict) -> None:
    paths = document["paths"]
    # In the order of the route table: a mounted app and middleware are no paths of theirs.
    assert list(paths) == ["/", "/api/files/{path}", "/api/users/{id}", "/chat"]
    assert set(paths["/api/users/{id}"]) == {"parameters", "get", "delete"}
    # on_request answers every method.
    assert set(paths["/api/files/{path}"]) - {"parameters"} == {
        "get",
        "put",
        "post",
        "delete",
        "options",
        "patch",
    }
    assert set(paths["/"]) == {"get"}


def test_parameters_come_from_the_file_names(document: dict) -> None:
    (user,) = document["paths"]["/api/users/{id}"]["parameters"]
    assert (user["name"], user["in"], user["required"]) == ("id", "path", True)
    (rest,) = document["paths"]["/api/files/{path}"]["parameters"]
    assert rest["name"] == "path" and rest["x-pagesfn-catch-all"] is True
    assert "zero or more segments" in rest["description"]


def test_summaries_come_from_docstrings(document: dict) -> None:
    user = document["paths"]["/api/users/{id}"]
    assert user["get"]["summary"] == "Get a user."
    assert user["get"]["description"] == "The user is named by its id, a path segment."
    # Without a docstring of its own, a handler is summed up by its module's.
    assert user["delete"]["summary"] == "Users, one at a time."
    assert "summary" not in document["paths"]["/api/files/{path}"]["get"]
    assert document["paths"]["/"]["get"]["summary"] == "The home page."
    assert user["get"]["tags"] == ["api"]
    assert user["get"]["x-pagesfn-handler"] == "api/users/[id].py:on_request_get"
    ids = [op["operationId"] for item in document["paths"].values() for op in _ops(item)]
    assert len(ids) == len(set(ids))


def test_what_has_no_operation_is_listed_in_extensions(document: dict) -> None:
    assert document["x-pagesfn-websockets"] == [
        {"path": "/chat", "file": "chat.py", "summary": "Echo what is sent, in capitals."}
    ]
    assert document["x-pagesfn-mounts"] == [{"prefix": "/shop", "file": "shop/[[default]].py"}]


def test_the_same_tree_gives_the_same_bytes(tmp_path: Path) -> None:
    root = str(write_tree(tmp_path / "functions", TREE))
    first = json.dumps(openapi_document(scan(root)), indent=2)
    assert json.dumps(openapi_document(scan(root)), indent=2) == first


def test_pagesfn_routes_openapi(tmp_path: Path) -> None:
    project = tmp_path / "site"
    write_tree(project / "functions", TREE)
    runner = CliRunner()
    printed = runner.invoke(main, ["routes", str(project), "--openapi"])
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.output)
    validator.validate(document)
    assert document["info"]["title"] == "site"
    written = tmp_path / "openapi.json"
    result = runner.invoke(main, ["routes", str(project), "--openapi", "--output", str(written)])
    assert result.exit_code == 0, result.output
    assert written.read_text() == printed.output


def _ops(item: dict) -> list[dict]:
    return [value for key, value in item.items() if key != "parameters"]


# -- mounted apps that publish a document of their own -----------------------------------


def published(title: str) -> dict:
    """An app's own document: a schema referring to another, OAuth2 with a relative token
    URL, an operation id and a tag."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "tags": [{"name": title}],
        "paths": {
            "/items/{n}": {
                "get": {
                    "operationId": "read_item",
                    "tags": [title],
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "the item",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "properties": {"owner": {"$ref": "#/components/schemas/Owner"}},
                },
                "Owner": {"type": "string"},
            },
            "securitySchemes": {
                "Bearer": {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": "token", "scopes": {}}},
                }
            },
        },
    }


def test_two_mounted_documents_merge_without_colliding(document: dict) -> None:
    merge_mounted(document, "/shop", published("shop"))
    merge_mounted(document, "/deep/admin", published("admin"))
    validator.validate(document)
    shop, admin = document["paths"]["/shop/items/{n}"], document["paths"]["/deep/admin/items/{n}"]
    # Components namespaced by prefix, and every reference follows its component.
    schemas = document["components"]["schemas"]
    assert {"shop_Item", "shop_Owner", "deep_admin_Item", "deep_admin_Owner"} <= set(schemas)
    assert schemas["shop_Item"]["properties"]["owner"] == {
        "$ref": "#/components/schemas/shop_Owner"
    }
    returned = admin["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert returned == {"$ref": "#/components/schemas/deep_admin_Item"}
    # Operation ids, security requirements and relative OAuth2 URLs under each mount.
    assert (shop["get"]["operationId"], admin["get"]["operationId"]) == (
        "shop_read_item",
        "deep_admin_read_item",
    )
    assert shop["get"]["security"] == [{"shop_Bearer": []}]
    flows = document["components"]["securitySchemes"]["deep_admin_Bearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/deep/admin/token"
    assert [tag["name"] for tag in document["tags"]] == ["shop", "admin"]
    assert shop["get"]["x-pagesfn-mount"] == "/shop"


def test_a_mixed_tree_yields_one_valid_document(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    apps = Path(__file__).parents[1] / "fixtures" / "apps"
    tree = {
        **TREE,
        "api/users/[id].py": TREE["api/users/[id].py"].replace("raise RuntimeError", "# "),
        "v2/[[default]].py": (apps / "fastapi_oauth.py").read_text(),
    }
    app = Pages(write_tree(tmp_path / "functions", tree))
    try:
        document = app.openapi(title="mixed")
    finally:
        app.close()
        app.loader.unload()
    validator.validate(document)
    assert {"/api/users/{id}", "/chat", "/v2/token", "/v2/users/me", "/v2/items/{number}"} <= set(
        document["paths"]
    )
    assert document["x-pagesfn-mounts"] == [
        {"prefix": "/shop", "file": "shop/[[default]].py", "openapi": False},
        {"prefix": "/v2", "file": "v2/[[default]].py", "openapi": True},
    ]
    flows = document["components"]["securitySchemes"]["v2_OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/v2/token"
    assert document["x-pagesfn-websockets"][0]["path"] == "/chat"
