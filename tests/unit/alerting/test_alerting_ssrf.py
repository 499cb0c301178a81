"""The SSRF guard: address classification and URL checks (no DNS: a fake resolver)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from streamwatch.alerting.ssrf import UnsafeUrl, check_url, classify, normalise_url


@pytest.mark.parametrize(("address", "kind"), [
    ("93.184.215.14", None),
    ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.10.10", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "non-global"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "metadata"),
    ("2002:7f00:1::", "tunnelled"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", "tunnelled"),  # 6to4 of 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "tunnelled"),  # Teredo, client 127.0.0.1
    ("64:ff9b::a00:1", "tunnelled"),  # NAT64 of 10.0.0.1
    ("2002:5db8:d70e::1", None),  # 6to4 of a public address
])
def test_classify(address: str, kind: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == kind


def resolver_for(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        return list(addresses)
    return resolve


def test_public_url_passes_and_pins_the_checked_address() -> None:
    target = check_url("https://hooks.example.com/a/b?x=1", allow_private=False,
                       resolver=resolver_for("93.184.215.14"))
    assert (target.scheme, target.host, target.port, target.path) == (
        "https", "hooks.example.com", 443, "/a/b?x=1")
    assert target.addresses == ("93.184.215.14",)
    assert target.origin == "https://hooks.example.com:443"


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/", "http or https"),
    ("http:///nohost", "must name a host"),
    ("http://user:pw@example.com/", "credentials"),
    ("http://example.com/#frag", "fragment"),
    ("http://exa mple.com/", "whitespace"),
    ("http://example.com:99999/", "valid URL"),
    ("", "non-empty"),
    ("http://example.com:0/", "port 0"),
])
def test_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(UnsafeUrl, match=message):
        check_url(url, allow_private=True, resolver=resolver_for("93.184.215.14"))


def test_internal_addresses_are_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeUrl, match=r"loopback.*STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE"):
        check_url("http://127.0.0.1:8080/hook", allow_private=False)
    assert check_url("http://127.0.0.1:8080/hook", allow_private=True).port == 8080
    with pytest.raises(UnsafeUrl, match="private"):
        check_url("http://intranet.corp/", allow_private=False,
                  resolver=resolver_for("10.0.0.5"))


def test_metadata_endpoints_are_refused_even_when_private_is_allowed() -> None:
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"):
        with pytest.raises(UnsafeUrl, match="metadata"):
            check_url(url, allow_private=True)


def test_a_name_with_any_internal_address_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="private"):
        check_url("http://mixed.example.com/", allow_private=False,
                  resolver=resolver_for("93.184.215.14", "192.168.0.10"))


def test_unresolvable_host() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check_url("http://nowhere.invalid/", allow_private=False, resolver=fail)


def test_allowed_hosts() -> None:
    allowed = ("hooks.example.com", ".partner.net")
    ok = resolver_for("93.184.215.14")
    check_url("http://hooks.example.com/", allow_private=False, allowed_hosts=allowed,
              resolver=ok)
    check_url("http://a.b.partner.net/", allow_private=False, allowed_hosts=allowed, resolver=ok)
    with pytest.raises(UnsafeUrl, match="allowed webhook hosts"):
        check_url("http://evil.com/", allow_private=False, allowed_hosts=allowed, resolver=ok)


def test_tunnelled_internal_addresses_are_refused_even_when_private_is_allowed() -> None:
    for url in ("http://[2002:7f00:1::]/x", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/"):
        with pytest.raises(UnsafeUrl, match="tunnelled"):
            check_url(url, allow_private=True)


@pytest.mark.parametrize(("url", "normal"), [
    ("http://host.example/é", "http://host.example/%C3%A9"),
    ("HTTPS://Bücher.Example:8443/a/ü?x=é&y=%20",
     "https://xn--bcher-kva.example:8443/a/%C3%BC?x=%C3%A9&y=%20"),
    ("http://[::1]:8080/p", "http://[::1]:8080/p"),
    ("http://example.com", "http://example.com/"),
])
def test_urls_are_normalised_to_what_a_request_can_send(url: str, normal: str) -> None:
    assert normalise_url(url) == normal
    normal.encode("ascii")  # what http.client needs for the request line and Host
    assert normalise_url(normal) == normal


def test_a_host_that_is_no_domain_name_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="not a valid domain name"):
        normalise_url("http://" + "a" * 64 + ".example/")
