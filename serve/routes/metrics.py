"""GET /metrics: Prometheus text format for scrapers."""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serve.deps import ComponentsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(components: ComponentsDep) -> Response:
    """Freshness, batch sizes, embed time, throughput, consumer lag and index size."""
    return Response(generate_latest(components.registry), media_type=CONTENT_TYPE_LATEST)
