from collections.abc import Callable
from typing import Any

class CountingRequest:
    """FastHttpSession.request, counted in flight by its start second (_inflight.c)."""

    __wrapped__: Callable[..., Any]

    def __init__(
        self,
        wrapped: Callable[..., Any],
        open: dict[int, int],
        arrivals: list[bool],
        fallback: Callable[..., Any],
        cut_off: Callable[..., None],
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, instance: object, owner: type | None = None) -> Any: ...
