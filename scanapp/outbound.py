"""HTTP requests to addresses a customer chose (brand webhooks), safe from SSRF by design.

A brand's webhook URL must never make this service call into its own network. So:

- the host is resolved once per request, and every address it resolves to must be public
  (``blocked_ip``: private, loopback, link-local, reserved, multicast, and the IPv6 forms
  that carry such an IPv4 address: IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96 and
  the local-use 64:ff9b:1::/48, 6to4 and Teredo);
- the connection goes to the address that was checked (no second lookup a DNS rebinding
  could answer differently), with the URL's host in the Host header and, for https, in
  SNI and certificate verification;
- redirects are never followed (a 3xx is a failed delivery): a redirect to 127.0.0.1
  would otherwise carry the signed body into the internal network;
- failures are reported to the customer as a short generic reason (``DeliveryError.
  reason``), never the socket error text, which would make the delivery log a port
  scanner's oracle; the details go to the server log only.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import urllib.parse

log = logging.getLogger(__name__)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")

# What a brand reads in its delivery log.
NOT_PUBLIC = "the webhook host is not a public address; internal addresses are refused"
UNREACHABLE = "the receiver could not be reached"
REDIRECT = "the receiver answered with a redirect (HTTP {status}), which is not followed"
BAD_URL = "the webhook URL is not a valid http(s) URL"
NOT_RESOLVED = "the webhook host name could not be resolved"


class DeliveryError(Exception):
    """A request that did not get an answer; ``reason`` is safe to show the customer."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for every address this service must not send a customer's request to."""
    if ip.version == 6:
        if ip in _NAT64_LOCAL:
            return True  # a site's own translator: whatever it embeds is local
        embedded = _embedded_ipv4(ip)  # type: ignore[arg-type]
        if embedded is not None:
            return blocked_ip(embedded)
    return (not ip.is_global) or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names without DNS: also 2130706433, 0x7f.1, 0177.0.0.1 and 127.1,
    which the C resolver reads as IPv4 addresses."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _name_is_local(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in _LOCAL_NAMES or host.endswith((".localhost", ".local", ".internal"))


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to (one lookup); DeliveryError when none."""
    literal = literal_ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        log.info("webhook host %s did not resolve: %s", host, exc)
        raise DeliveryError(NOT_RESOLVED) from None
    found = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise DeliveryError(NOT_RESOLVED)
    return found


def check_url(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be a webhook (a message for the brand), or None.

    A name that does not resolve now is accepted: it may be set up before its DNS, and
    every delivery checks again."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "the webhook URL must be http(s)"
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return BAD_URL
    if allow_private:
        return None
    if parts.scheme != "https":
        return "the webhook URL must use https"
    if _name_is_local(parts.hostname):
        return "the webhook URL must point at a public address"
    try:
        addresses = resolve(parts.hostname, parts.port or 443)
    except DeliveryError:
        return None
    if any(blocked_ip(a) for a in addresses):
        return "the webhook URL must point at a public address"
    return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate checked against the URL's host name, not the address connected to.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_private: bool) -> int:
    """POST ``body`` to ``url`` and return the receiver's status (never a 3xx: that is a
    DeliveryError). Raises DeliveryError with a customer-safe reason on any failure."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DeliveryError(BAD_URL)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeliveryError(BAD_URL) from None
    if not allow_private and (parts.scheme != "https" or _name_is_local(parts.hostname)):
        raise DeliveryError(NOT_PUBLIC)
    addresses = resolve(parts.hostname, port)
    if not allow_private and any(blocked_ip(a) for a in addresses):
        log.warning("webhook to %s refused: it resolves to %s", parts.hostname,
                    ", ".join(map(str, addresses)))
        raise DeliveryError(NOT_PUBLIC)
    connection_class = (_PinnedHTTPSConnection if parts.scheme == "https"
                        else _PinnedHTTPConnection)
    connection = connection_class(parts.hostname, port, str(addresses[0]), timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)  # a little of the answer, so the receiver sees a clean close
        status = response.status
    except (OSError, http.client.HTTPException, ssl.CertificateError) as exc:
        log.warning("webhook to %s (%s) failed: %s: %s", parts.hostname, addresses[0],
                    type(exc).__name__, exc)
        raise DeliveryError(UNREACHABLE) from None
    finally:
        connection.close()
    if 300 <= status < 400:
        raise DeliveryError(REDIRECT.format(status=status), status)
    return status
