"""The URLconf the Django tests fill in (Django wants a module)."""

from typing import Any

urlpatterns: list[Any] = []
