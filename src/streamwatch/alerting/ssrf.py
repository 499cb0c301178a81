"""SSRF guard for webhook URLs.

A webhook URL is chosen by whoever holds the admin token, and the service then
makes requests to it from inside the network. So a URL is refused when its host
resolves to an address a webhook has no business reaching: loopback, private
(RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared (CGNAT)
space, or a cloud metadata endpoint. The check runs at subscription creation and
again before every delivery, and the delivery connects to exactly the address
that was checked, so a DNS answer that changes in between (rebinding) cannot
slip through.

An IPv4-mapped IPv6 address is judged as the IPv4 address it is; a 6to4, Teredo
or NAT64 address that tunnels to a non-public IPv4 address (``[2002:7f00:1::]``
wraps 127.0.0.1) is refused outright.

``normalise_url`` turns a URL into the one form a delivery can send as is: an
ASCII (IDNA) host and a percent-encoded path and query. Subscriptions store that
form, so a URL that ``http.client`` could not encode is refused at creation
instead of failing at every delivery.

``allow_private`` (``STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE=1``) admits loopback,
private and link-local addresses for local runs and tests; metadata endpoints,
multicast, unspecified and reserved addresses stay refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# AWS/GCP/Azure/OpenStack (169.254.169.254), AWS IPv6 (fd00:ec2::254),
# Alibaba (100.100.100.200), Azure wireserver (168.63.129.16).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
))
MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], Sequence[str]]
# RFC 3986 characters allowed unescaped in a path / a query; '%' keeps existing escapes.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """The URL is malformed or points somewhere webhooks may not go."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (``addresses``) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def origin(self) -> str:
        """``scheme://host:port`` — safe to log (paths and queries may hold tokens)."""
        return f"{self.scheme}://{self.host}:{self.port}"


def tunnelled_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, Teredo (client) or NAT64 address carries, if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return classify(ip.ipv4_mapped)
        inner = tunnelled_ipv4(ip)
        # A tunnel to an internal IPv4 address has no webhook use, and which host a
        # relay or gateway would reach is not ours to predict: refused even when
        # private addresses are allowed.
        if inner is not None and classify(inner) is not None:
            return "tunnelled"
    if ip in METADATA_ADDRESSES:
        return "metadata"
    checks = (
        ("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
        ("multicast", ip.is_multicast), ("link-local", ip.is_link_local),
        # reserved before private: Python counts 240.0.0.0/4 as both
        ("reserved", ip.is_reserved), ("private", ip.is_private),
    )
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:
        return "non-global"
    return None


_ALLOWED_WITH_PRIVATE = {"loopback", "private", "link-local", "non-global"}


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """The reason to refuse connecting to ``ip``, or None."""
    kind = classify(ip)
    if kind is None or (allow_private and kind in _ALLOWED_WITH_PRIVATE):
        return None
    return kind


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_url(url: str) -> tuple[str, str, int, str]:
    """Syntax checks only: ``(scheme, host, port, path_and_query)``."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise UnsafeUrl("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL: {exc}") from None
    if port == 0:
        raise UnsafeUrl("must not use port 0")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("must use http or https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not contain credentials; authenticate with the signature")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("must name a host")
    if parts.fragment:
        raise UnsafeUrl("must not contain a fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def normalise_url(url: str) -> str:
    """``url`` with an IDNA host and a percent-encoded path and query, or UnsafeUrl."""
    parse_url(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if not literal:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise UnsafeUrl(f"host {host[:100]!r} is not a valid domain name: {exc}") from None
    elif ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = quote(parts.query, safe=_QUERY_SAFE)
    out = urlunsplit((parts.scheme.lower(), netloc, path, query, ""))
    if len(out) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be at most {MAX_URL_LENGTH} characters once percent-encoded")
    return out


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """``allowed_hosts`` entries are exact names or ``.suffix`` patterns; empty allows all."""
    if not allowed_hosts:
        return True
    h = host.lower()
    return any(h == a or (a.startswith(".") and h.endswith(a)) for a in allowed_hosts)


def check_url(url: str, *, allow_private: bool, allowed_hosts: Sequence[str] = (),
              resolver: Resolver = system_resolver) -> Target:
    """Validate ``url``, resolve its host and refuse unsafe addresses."""
    scheme, host, port, path = parse_url(url)
    if not host_allowed(host, allowed_hosts):
        raise UnsafeUrl(f"host {host!r} is not in the allowed webhook hosts")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
        if not addresses:
            raise UnsafeUrl(f"host {host!r} does not resolve")
    # Every address must pass: a name that also resolves to an internal address
    # could be steered there by the connecting client.
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        reason = address_refusal(ip, allow_private)
        if reason is not None:
            hint = ("" if allow_private or reason not in _ALLOWED_WITH_PRIVATE
                    else " (set STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE=1 to allow it)")
            raise UnsafeUrl(f"host {host!r} resolves to a {reason} address {ip}{hint}")
    return Target(scheme, host, port, path, tuple(addresses))
