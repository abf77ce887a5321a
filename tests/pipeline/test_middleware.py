"""``_middleware.py``: the chain of folders around a route, on both faces.

Each folder's middleware wraps every request under that folder (on segment boundaries),
outermost first; ``context.next()`` runs the rest of the chain and gives back the route's
``Response``, which the middleware may change or replace, or skip altogether.
"""

from __future__ import annotations

import logging

import pytest

# Each middleware notes itself in ``context.data["trail"]`` on the way in, and in the
# ``X-Out`` header on the way out; the routes answer with the trail they saw.
NESTED = {
    "_middleware.py": """
        def on_request(context):
            context.data.setdefault("trail", []).append("root")
            response = context.next()
            response.headers["X-Out"] = response.headers.get("X-Out", "") + "root;"
            return response
    """,
    "a/_middleware.py": """
        async def on_request(context):
            context.data.setdefault("trail", []).append("a")
            response = await context.next()
            response.headers["X-Out"] = response.headers.get("X-Out", "") + "a;"
            return response
    """,
    "a/b/_middleware.py": """
        def on_request(context):
            context.data.setdefault("trail", []).append("b")
            response = context.next()
            response.headers["X-Out"] = response.headers.get("X-Out", "") + "b;"
            return response
    """,
    "a/b/c.py": """
        def on_request(context):
            return ",".join(context.data["trail"])
    """,
    "a/x.py": """
        def on_request(context):
            return ",".join(context.data["trail"])
    """,
    "ab.py": """
        def on_request(context):
            return ",".join(context.data["trail"])
    """,
}


@pytest.fixture
def nested(serve):
    return serve(NESTED)


def test_nested_middleware_runs_outermost_first_in_and_innermost_first_out(nested):
    result = nested.get("/a/b/c")
    assert result.status == 200
    assert result.text == "root,a,b"
    assert result.header_all("x-out") == ["b;a;root;"]


def test_only_the_folders_containing_the_path_run(nested):
    result = nested.get("/a/x")
    assert (result.status, result.text) == (200, "root,a")
    assert result.header_all("x-out") == ["a;root;"]


def test_folders_match_on_segment_boundaries_only(nested):
    result = nested.get("/ab")
    assert (result.status, result.text) == (200, "root")
    assert result.header_all("x-out") == ["root;"]


def test_middleware_wraps_a_path_no_route_answers(nested):
    result = nested.get("/a/b/missing")
    assert result.status == 404
    assert result.header_all("x-out") == ["b;a;root;"]


def test_a_trailing_slash_reaches_the_same_chain(nested):
    result = nested.get("/a/b/c/")
    assert (result.status, result.text) == (200, "root,a,b")


MIXED = {
    "_middleware.py": """
        import inspect

        from pagesfn import Response


        def first(context):
            context.data["order"] = ["first"]
            response = context.next()
            # A sync handler gets the Response itself, never an awaitable.
            response.headers["X-First"] = type(response).__name__
            return response


        async def second(context):
            context.data["order"].append("second")
            pending = context.next()
            response = await pending
            response.headers["X-Second-Awaitable"] = str(inspect.isawaitable(pending))
            return response


        on_request = [first, second]
    """,
    "deep/_middleware.py": """
        def on_request(context):
            context.data["order"].append("deep")
            return context.next()
    """,
    "deep/route.py": """
        async def on_request(context):
            return {"order": context.data["order"]}
    """,
    "top.py": """
        def on_request(context):
            return {"order": context.data["order"]}
    """,
}


@pytest.fixture
def mixed(serve):
    return serve(MIXED)


def test_a_list_of_handlers_runs_in_order(mixed):
    result = mixed.get("/top")
    assert result.status == 200
    assert result.json() == {"order": ["first", "second"]}
    assert result.header("x-first") == "Response"
    assert result.header("x-second-awaitable") == "True"


def test_sync_and_async_steps_mix_in_one_chain(mixed):
    result = mixed.get("/deep/route")
    assert result.status == 200
    assert result.json() == {"order": ["first", "second", "deep"]}
    assert result.header("x-first") == "Response"


RESPONSES = {
    "_state.py": """
        calls = []
    """,
    "_middleware.py": """
        from pagesfn import Response


        def on_request(context):
            path = context.request.path
            if path == "/changed":
                response = context.next()
                response.status_code = 202
                response.headers["X-Changed"] = "yes"
                del response.headers["X-Drop"]
                return response
            if path == "/wrapped":
                inner = context.next()
                return Response(
                    "wrapped(" + inner.text + ")", 200, {"X-Inner-Status": str(inner.status_code)}
                )
            return context.next()
    """,
    "changed.py": """
        def on_request(context):
            return ("original", 200, {"X-Drop": "1", "X-Keep": "2"})
    """,
    "wrapped.py": """
        def on_request(context):
            return ("inner", 201)
    """,
    "admin/_middleware.py": """
        from pagesfn import Response


        async def on_request(context):
            if context.request.headers.get("Authorization") != "Bearer good":
                return Response("who are you?", 401, {"WWW-Authenticate": "Bearer"})
            return await context.next()
    """,
    "admin/panel.py": """
        from .._state import calls


        def on_request(context):
            calls.append(context.request.method)
            return "panel"
    """,
    "calls.py": """
        from ._state import calls


        def on_request(context):
            return {"calls": calls}
    """,
}


@pytest.fixture
def responses(serve):
    return serve(RESPONSES)


def test_middleware_changes_status_and_headers_of_the_route_response(responses):
    result = responses.get("/changed")
    assert (result.status, result.text) == (202, "original")
    assert result.header("x-changed") == "yes"
    assert result.header("x-keep") == "2"
    assert result.header("x-drop") is None


def test_middleware_replaces_the_route_response(responses):
    result = responses.get("/wrapped")
    assert (result.status, result.text) == (200, "wrapped(inner)")
    assert result.header("x-inner-status") == "201"
    assert result.header("content-length") == str(len("wrapped(inner)"))


def test_middleware_answering_itself_keeps_the_route_from_running(responses):
    result = responses.get("/admin/panel")
    assert (result.status, result.text) == (401, "who are you?")
    assert result.header("www-authenticate") == "Bearer"
    result = responses.request("POST", "/admin/panel", body=b"x")
    assert result.status == 401
    assert responses.get("/calls").json() == {"calls": []}
    allowed = responses.get("/admin/panel", headers={"Authorization": "Bearer good"})
    assert (allowed.status, allowed.text) == (200, "panel")
    assert responses.get("/calls").json() == {"calls": ["GET"]}


REWRITES = {
    "_middleware.py": """
        def on_request(context):
            request = context.request
            if request.path == "/old":
                return context.next("/other?x=1&y=two")
            if request.path == "/encoded":
                return context.next("/items/caf%C3%A9%20%3Bc")
            if request.path == "/to-static":
                return context.next("/style.css")
            if request.path == "/to-nowhere":
                return context.next("/no/such/page")
            if request.path == "/as-post":
                return context.next(request.replace(method="POST", headers={"X-Via": "replace"}))
            return context.next()
    """,
    "other.py": """
        def on_request(context):
            request = context.request
            return {
                "path": request.path,
                "query": request.query_string.decode(),
                "args": request.args.to_dict(),
                "method": request.method,
            }
    """,
    "items/[id].py": """
        def on_request(context):
            return {"id": context.params["id"], "path": context.request.path}
    """,
    "as-post.py": """
        def on_request_get(context):
            return "get"


        def on_request_post(context):
            return {"method": "POST", "via": context.request.headers.get("X-Via")}
    """,
}


@pytest.fixture
def rewrites(serve, public):
    root = public({"style.css": "body{color:red}", "404.html": "<p>lost</p>"})
    return serve(REWRITES, public=str(root))


def test_next_with_a_path_rewrites_path_and_query(rewrites):
    result = rewrites.get("/old?ignored=1")
    assert result.status == 200
    assert result.json() == {
        "path": "/other",
        "query": "x=1&y=two",
        "args": {"x": "1", "y": "two"},
        "method": "GET",
    }


def test_next_with_a_percent_encoded_path(rewrites):
    result = rewrites.get("/encoded")
    assert result.status == 200
    assert result.json() == {"id": "café ;c", "path": "/items/café ;c"}


def test_next_to_a_path_without_route_reaches_static_assets(rewrites):
    result = rewrites.get("/to-static")
    assert (result.status, result.text) == (200, "body{color:red}")
    assert result.header("content-type") == "text/css; charset=utf-8"


def test_next_to_a_path_without_route_or_file_is_the_404_page(rewrites):
    result = rewrites.get("/to-nowhere")
    assert (result.status, result.text) == (404, "<p>lost</p>")


def test_next_with_a_replaced_request_changes_method_and_headers(rewrites):
    result = rewrites.get("/as-post")
    assert result.status == 200
    assert result.json() == {"method": "POST", "via": "replace"}
    assert rewrites.get("/as-post?plain").status == 200


METHOD_SPECIFIC = {
    "_middleware.py": """
        def on_request_post(context):
            response = context.next()
            response.headers["X-Post-Middleware"] = "ran"
            return response
    """,
    "form.py": """
        def on_request(context):
            return context.request.method
    """,
}


@pytest.mark.parametrize(
    ("method", "ran"),
    [("POST", "ran"), ("GET", None), ("HEAD", None), ("PUT", None), ("DELETE", None)],
)
def test_method_specific_middleware_runs_only_for_its_method(serve, method, ran):
    client = serve(METHOD_SPECIFIC)
    result = client.request(method, "/form")
    assert result.status == 200
    assert result.header("x-post-middleware") == ran
    if method != "HEAD":
        assert result.text == method


PARAMS = {
    "users/[id]/_middleware.py": """
        def on_request(context):
            context.data["seen"] = dict(context.params)
            response = context.next()
            response.headers["X-User"] = context.params["id"].encode().hex()
            return response
    """,
    "users/[id]/index.py": """
        def on_request(context):
            return {"seen": context.data["seen"], "params": context.params}
    """,
    "users/[id]/posts/[post].py": """
        def on_request(context):
            return {"seen": context.data["seen"], "params": context.params}
    """,
    "users/index.py": """
        def on_request(context):
            return {"seen": context.data.get("seen")}
    """,
}


def test_param_folder_middleware_sees_the_param(serve):
    client = serve(PARAMS)
    result = client.get("/users/42/posts/7")
    assert result.status == 200
    assert result.json() == {"seen": {"id": "42"}, "params": {"id": "42", "post": "7"}}
    assert result.header("x-user") == b"42".hex()
    result = client.get("/users/caf%C3%A9%3Bx")
    assert result.json() == {"seen": {"id": "café;x"}, "params": {"id": "café;x"}}
    assert result.header("x-user") == "café;x".encode().hex()


def test_param_folder_middleware_does_not_run_for_the_parent_folder(serve):
    client = serve(PARAMS)
    result = client.get("/users")
    assert result.json() == {"seen": None}
    assert result.header("x-user") is None


ERRORS = {
    "guard/_middleware.py": """
        from pagesfn import Response


        async def on_request(context):
            try:
                return await context.next()
            except ValueError as exc:
                return Response.json({"error": str(exc)}, 503)
    """,
    "guard/boom.py": """
        def on_request(context):
            raise ValueError("the database is asleep")
    """,
    "sguard/_middleware.py": """
        from pagesfn import Response


        def on_request(context):
            try:
                return context.next()
            except ValueError as exc:
                return Response.json({"caught": str(exc)}, 503)
    """,
    "sguard/boom.py": """
        async def on_request(context):
            raise ValueError("async failure")
    """,
    "plain/_middleware.py": """
        def on_request(context):
            return context.next()
    """,
    "plain/boom.py": """
        def on_request(context):
            raise ValueError("nobody catches this")
    """,
    "plain/ok.py": """
        def on_request(context):
            return "ok"
    """,
    "broken/_middleware.py": """
        import does_not_exist_anywhere


        def on_request(context):
            return context.next()
    """,
    "broken/page.py": """
        def on_request(context):
            return "never"
    """,
    "brokenish.py": """
        def on_request(context):
            return "unaffected"
    """,
}


@pytest.fixture
def errors(serve):
    return serve(ERRORS)


def test_async_middleware_catches_the_route_error(errors):
    result = errors.get("/guard/boom")
    assert result.status == 503
    assert result.json() == {"error": "the database is asleep"}
    assert result.header("content-type") == "application/json"


def test_sync_middleware_catches_an_async_route_error(errors):
    result = errors.get("/sguard/boom")
    assert result.status == 503
    assert result.json() == {"caught": "async failure"}


def test_uncaught_route_error_is_a_500_naming_the_route_in_the_log(errors, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    result = errors.get("/plain/boom")
    assert (result.status, result.text) == (500, "Internal Server Error")
    assert "nobody catches this" not in result.text
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("plain/boom.py" in m and "ValueError" in m for m in messages), messages
    assert errors.get("/plain/ok").text == "ok"


def test_middleware_that_fails_to_import_is_a_500_for_its_folder_only(errors, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    for path in ("/broken/page", "/broken", "/broken/missing"):
        result = errors.get(path)
        assert (result.status, result.text) == (500, "Internal Server Error"), path
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("broken/_middleware.py" in m and "does_not_exist_anywhere" in m for m in messages)
    assert (errors.get("/brokenish").status, errors.get("/brokenish").text) == (200, "unaffected")
    assert errors.get("/plain/ok").text == "ok"


def test_middleware_import_error_shows_in_debug_mode(serve):
    client = serve(ERRORS, debug=True)
    result = client.get("/broken/page")
    assert result.status == 500
    assert "broken/_middleware.py" in result.text
    assert "does_not_exist_anywhere" in result.text


DATA = {
    "_middleware.py": """
        def outer(context):
            context.data["count"] = context.data.get("count", 0) + 1
            context.data["outer_id"] = id(context.data)
            return context.next()


        async def inner(context):
            context.data["inner_same"] = context.data["outer_id"] == id(context.data)
            context.data["count"] += 1
            return await context.next()


        on_request = [outer, inner]
    """,
    "data.py": """
        def on_request(context):
            data = context.data
            return {
                "count": data["count"],
                "inner_same": data["inner_same"],
                "route_same": data["outer_id"] == id(data),
                "keys": sorted(data),
            }
    """,
}


def test_context_data_is_shared_along_the_chain_and_fresh_per_request(serve):
    client = serve(DATA)
    expected = {
        "count": 2,
        "inner_same": True,
        "route_same": True,
        "keys": ["count", "inner_same", "outer_id"],
    }
    for _ in range(3):
        result = client.get("/data")
        assert result.status == 200
        assert result.json() == expected
