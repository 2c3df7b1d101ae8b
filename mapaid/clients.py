"""What counts as one client for the abuse limits (``mapaid.limits``) and the login throttle
(``mapaid.loginguard``): one function for both, so a change of the rule changes both at once.

An IPv4 address is a client (an IPv4-mapped IPv6 address is its IPv4 address). An IPv6 address counts by
its /56: an ISP gives one home (or one phone) a whole /56 in the usual case (RIPE-690 recommends a /56 or
a /48 per subscriber; a /64 is a single network inside it), so counting by /64 gave one home up to 256
allowances by using 256 of its own networks. A /56 can still be one home among few that share it (some
mobile networks hand out /64s from a common /56), which then share one allowance. Anything that is not
an address (a test's remote address, a Unix socket's empty one) is its own text.
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 56


def client_unit(remote_addr: str | None) -> str:
    """The part of ``remote_addr`` that stands for one client: an IPv4 address, or an IPv6 /56."""
    text = remote_addr or ""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
