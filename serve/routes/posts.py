"""GET /v1/posts/{id}: one indexed post, with when it became searchable."""

from fastapi import APIRouter, HTTPException

from serve.deps import ComponentsDep
from serve.schemas import PostDetail, PostOut, to_datetime

router = APIRouter(prefix="/v1", tags=["posts"])


@router.get("/posts/{post_id}", response_model=PostDetail)
async def get_post(post_id: str, components: ComponentsDep) -> PostDetail:
    """The post, or 404 when it is unknown or was deleted."""
    post = components.store.get(post_id)
    if post is None:
        raise HTTPException(404, f"post {post_id!r} is not indexed (unknown or deleted)")
    return PostDetail(
        **PostOut.from_record(post).model_dump(),
        indexed_at=to_datetime(post.indexed_at),
        partition=post.partition,
        offset=post.offset,
    )
