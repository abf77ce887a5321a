"""The pytest plugin, as a project uses it: pytest runs a project's own test files
(``pytester``), the plugin loaded from pagesfn's ``pytest11`` entry point as after
``pip install``."""

from __future__ import annotations

import textwrap

import pytest

PROJECT = {
    "functions/api/hello.py": """
        def on_request_get(context):
            name = context.request.args.get("name", "world")
            return {"message": f"{context.env.get('GREETING', 'Hello')}, {name}!"}
    """,
    "functions/chat.py": """
        async def on_websocket(socket):
            await socket.accept()
            async for message in socket:
                await socket.send(message.upper())
    """,
    "functions/mounted/[[default]].py": """
        import contextlib

        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        @contextlib.asynccontextmanager
        async def lifespan(app):
            yield {"started": "yes"}

        async def state(request):
            return JSONResponse({"started": request.state.started})

        app = Starlette(routes=[Route("/state", state)], lifespan=lifespan)
    """,
    "public/about.html": "<h1>About</h1>",
    "pagesfn.toml": 'env_files = ["settings.env"]\n',
    "settings.env": "GREETING=Hi\n",
}

TESTS = """
    import pytest

    def test_hello(pages_client):
        answer = pages_client.get("/api/hello", params={"name": "Ada"})
        assert answer.status_code == 200
        assert answer.json() == {"message": "Hi, Ada!"}

    def test_static(pages_client):
        assert pages_client.get("/about").text == "<h1>About</h1>"

    def test_the_lifespan_ran(pages_client):
        assert pages_client.get("/mounted/state").json() == {"started": "yes"}

    def test_the_face(pages_client, pages_face):
        assert pages_client.face == pages_face

    @pytest.mark.pages_face("asgi")
    def test_asgi_only(pages_client, pages_ws):
        assert pages_client.face == "asgi"
        with pages_ws("/chat") as socket:
            socket.send_text("hi")
            assert socket.receive_text() == "HI"
"""


def write_project(pytester: pytest.Pytester, ini: str) -> None:
    for name, text in PROJECT.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    pytester.makeini(ini)
    pytester.makepyfile(test_site=textwrap.dedent(TESTS))


def test_a_project_named_in_the_ini_runs_on_both_faces(pytester: pytest.Pytester) -> None:
    write_project(pytester, "[pytest]\npages_project = .\n")
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        [
            "*test_hello[[]asgi[]] PASSED*",
            "*test_hello[[]wsgi[]] PASSED*",
            "*test_asgi_only[[]asgi[]] PASSED*",
        ]
    )
    assert "test_asgi_only[wsgi]" not in result.stdout.str()


def test_a_pages_fixture_of_the_projects_own(pytester: pytest.Pytester) -> None:
    write_project(pytester, "[pytest]\n")
    pytester.makeconftest(
        """
        import pytest
        from pagesfn import Pages

        @pytest.fixture
        def pages(tmp_path):
            app = Pages("functions", public="public", env={"GREETING": "Hi"})
            yield app
            app.close()
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=9)


def test_without_an_app_the_error_says_what_to_do(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile("def test_it(pages_client):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*define one*set `pages_project`*"])
    assert result.ret != 0


def test_a_wrong_face_in_the_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_project(pytester, "[pytest]\npages_project = .\n")
    pytester.makepyfile(
        test_wrong="""
        import pytest

        @pytest.mark.pages_face("http")
        def test_it(pages_client):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "test_wrong.py")
    result.stdout.fnmatch_lines(['*takes "asgi", "wsgi" or both, not \'http\'*'])
    assert result.ret != 0


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.pages_face(*faces)*"])
