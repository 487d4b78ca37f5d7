"""Answer only the Host names this platform serves, so a DNS-rebinding page cannot read it.

A page on attacker.example whose name is made to resolve to 127.0.0.1 talks to the platform as
its own origin; its requests still say `Host: attacker.example`. Refusing every Host the operator
did not name stops it before any route runs. An IP-address Host cannot come from a rebinding
(that always needs a DNS name), so a platform bound to every interface also answers its own
addresses, whatever they are (a container's, a load balancer's health check).

Starlette's TrustedHostMiddleware makes the same decision, but answers in plain text and has no
rule for IP literals; this one answers in the API's IMS error shape.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from timeledger.caliper.errors import Problem
from timeledger.server.api.errors import ims_error

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
ANY_HOST = "*"
#: Distinct Host headers whose decision a running platform remembers (then it starts over).
MAX_DECIDED_HOSTS = 256
_HOST_HEADER = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^\[\]:/\\@\s]+)(?::[0-9]{1,5})?")
_DNS_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*")


def normalize_host(value: str) -> str:
    """A host name as Host headers are compared: lowercase, IPv6 in brackets, no trailing dot.

    ValueError for anything that is not a DNS name or an IP address (a port, a scheme, a path)."""
    name = value.strip().lower().rstrip(".")
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        if not bracketed and _DNS_NAME.fullmatch(name) and len(name) <= 253:
            return name
        raise ValueError(f"{value!r} is not a host name or IP address") from None
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The Host names a platform answers (ports are not compared)."""

    names: frozenset[str]
    any_ip: bool = False
    any_host: bool = False

    @classmethod
    def for_bind(cls, bind_host: str, allowed: Iterable[str] = ()) -> HostPolicy:
        """Loopback names always (requests from the machine itself), the bound address, every
        `allowed` name, and with a wildcard bind (0.0.0.0, ::) any IP address; `*` allows all."""
        allowed = list(allowed)
        names = {*LOOPBACK_HOSTS, *(normalize_host(a) for a in allowed if a != ANY_HOST)}
        wildcard = bind_host.strip("[]") in WILDCARD_BINDS
        if not wildcard:
            names.add(normalize_host(bind_host))
        return cls(frozenset(names), any_ip=wildcard, any_host=ANY_HOST in allowed)

    def admits(self, header: str | None) -> bool:
        if self.any_host:
            return True
        match = _HOST_HEADER.fullmatch(header or "")
        if match is None:
            return False
        try:
            name = normalize_host(match["name"])
        except ValueError:
            return False
        return name in self.names or (self.any_ip and _is_ip_literal(name))


class HostCheck:
    """ASGI middleware: a request whose Host the policy refuses gets 400 before any route."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy
        # Host headers already decided: clients send the same few over and over, and the
        # decision (a regular expression, an address parse) costs more than the rest of this.
        self._decided: dict[str | None, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the platform serves no websockets
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self._admits(host):
            await self.app(scope, receive, send)
            return
        message = "A Host header is required" if not host else (
            f"Host {host!r} is not served here; an operator can add it with "
            "`timeledger serve --allowed-host NAME`")
        await ims_error(400, message, [Problem("Host", message)])(scope, receive, send)

    def _admits(self, host: str | None) -> bool:
        decided = self._decided.get(host)
        if decided is None:
            decided = self.policy.admits(host)
            if len(self._decided) >= MAX_DECIDED_HOSTS:
                self._decided.clear()  # a client making up names gains nothing but a re-check
            self._decided[host] = decided
        return decided
