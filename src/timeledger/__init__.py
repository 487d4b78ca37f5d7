"""timeledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timeledger.sdk import (
        AsyncClient,
        Client,
        ErrorContext,
        Metrics,
        TimeOptions,
        ValidationError,
    )

__all__ = ["AsyncClient", "Client", "ErrorContext", "Metrics", "TimeOptions", "ValidationError"]
_SDK_NAMES = frozenset(__all__)


def __getattr__(name: str) -> Any:
    """The SDK's names, imported on first use so the platform never loads the SDK."""
    if name in _SDK_NAMES:
        from timeledger import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'timeledger' has no attribute {name!r}")
