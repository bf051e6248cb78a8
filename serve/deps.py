"""Dependency-injection aliases: routes ask for parts, the lifespan provides them."""

from typing import Annotated

from fastapi import Depends, Request

from serve.components import Components


def get_components(request: Request) -> Components:
    return request.app.state.components


ComponentsDep = Annotated[Components, Depends(get_components)]
