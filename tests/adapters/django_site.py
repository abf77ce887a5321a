"""A minimal Django project for the compatibility matrix: settings, URLs and views.

Route files import it and call :func:`configure` before building Django's WSGI or ASGI
handler. Django's settings are process-wide, so they are configured once, however many
functions trees mount Django.
"""

from __future__ import annotations

import hashlib
import json

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse


def configure() -> None:
    """Configure Django for this process, once."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="pagesfn-tests-only",
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()


def _root(request: HttpRequest) -> str:
    # Django keeps the mount's prefix out of ``path_info`` and in ``path``.
    return request.path[: len(request.path) - len(request.path_info)]


def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {
            "route": "index",
            "self": reverse("index"),
            "url": request.build_absolute_uri(),
            "root": _root(request),
        }
    )


def item(request: HttpRequest, item_id: str) -> HttpResponse:
    return JsonResponse(
        {
            "id": item_id,
            "url": request.build_absolute_uri(),
            "link": reverse("item", kwargs={"item_id": "abc"}),
        }
    )


def go(request: HttpRequest) -> HttpResponse:
    return redirect("index")


def query(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"a": request.GET.getlist("a"), "b": request.GET.get("b")})


def echo_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"json": json.loads(request.body)})


def form(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"form": request.POST.dict()})


def upload(request: HttpRequest) -> HttpResponse:
    uploaded = request.FILES["file"]
    data = uploaded.read()
    return JsonResponse(
        {
            "note": request.POST["note"],
            "name": uploaded.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    )


def raw(request: HttpRequest) -> HttpResponse:
    data = request.body
    return JsonResponse({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def stream(request: HttpRequest) -> HttpResponse:
    # Django serves sync iterators from its WSGI handler and async ones from its ASGI
    # handler; the other kind works too, with a warning.
    if isinstance(request, ASGIRequest):

        async def achunks():  # type: ignore[no-untyped-def]
            for i in range(5):
                yield f"chunk {i}\n"

        return StreamingHttpResponse(achunks(), content_type="text/plain")
    return StreamingHttpResponse((f"chunk {i}\n" for i in range(5)), content_type="text/plain")


def cookies(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"ok": True})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [
    path("", index, name="index"),
    path("items/<str:item_id>", item, name="item"),
    path("redirect", go),
    path("query", query),
    path("json", echo_json),
    path("form", form),
    path("upload", upload),
    path("raw", raw),
    path("stream", stream),
    path("cookies", cookies),
    path("boom", boom),
]
