"""The FastAPI application factory: lifespan-owned components, thin routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from serve.components import Components, background_tasks, build_components
from serve.errors import install_error_handlers
from serve.routes import ask, chat, health, metrics, posts, search, trends
from serve.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
ComponentsFactory = Callable[[], AbstractAsyncContextManager[Components]]


def create_app(
    settings: Settings, *, run_ingest: bool = True, components: ComponentsFactory | None = None
) -> FastAPI:
    """Build the app; ``components`` replaces the real parts (unit tests pass small fakes)."""
    factory = components or (lambda: build_components(settings, run_ingest=run_ingest))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with factory() as built, background_tasks(built):
            app.state.components = built
            yield

    app = FastAPI(
        title="feedpulse",
        version="0.1.0",
        summary="Answers about what is being posted right now, with cited posts.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (ask, chat, search, posts, health, metrics, trends):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def index_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app
