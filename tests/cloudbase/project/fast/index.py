"""`fast` at /api/fast: a FastAPI app under the target `api` (not `main`)."""

from fastapi import FastAPI, Request

api = FastAPI()


@api.get("/items/{item_id}")
async def item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@api.get("/where")
async def where(request: Request):
    return {
        "root_path": request.scope.get("root_path"),
        "path": request.url.path,
        "item_url": str(request.url_for("item", item_id=7)),
    }
