"""Micro-benchmark: what parsing a scanned or resolved Digital Link costs, in microseconds.

    PYTHONPATH=$PWD python -m loadtests.uri_parse [--n 20000]

Rows: the scan API's parser on the printed stamp form (regex fast path) and on a form
that goes to the full parser (query string); the resolver's strict syntax check; biip's
Digital Link parser (what the resolver used before the strict check) for reference; and
the decompression of a compressed stamp URI. Best of 5 runs of n calls each.
"""

from __future__ import annotations

import argparse
import timeit

from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from scanapp.scan import digital_link
from scanapp.scan.dl_compression import compress, decompress
from scanapp.scan.uri import parse_scanned

GTIN, LOT, SERIAL = "08934567890120", "L2411", "05M02YDYXEAY4SVXEA34"
PRINTED = f"https://scan.example.vn/01/{GTIN}/10/{LOT}/21/{SERIAL}"
WITH_QUERY = PRINTED + "?17=271231"
PATH = f"/01/{GTIN}/10/{LOT}/21/{SERIAL}"
SEGMENT = compress({"01": GTIN, "10": LOT, "21": SERIAL})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    n = parser.parse_args().n
    rows = [
        ("scan API, printed form (fast path)", lambda: parse_scanned(PRINTED)),
        ("scan API, with ?17= (full parser)", lambda: parse_scanned(WITH_QUERY)),
        ("resolver strict syntax check", lambda: digital_link.parse(PATH, "17=271231")),
        ("biip GS1DigitalLinkURI.parse (reference)", lambda: GS1DigitalLinkURI.parse(
            WITH_QUERY)),
        ("decompress a compressed stamp", lambda: decompress(SEGMENT)),
    ]
    for name, call in rows:
        best = min(timeit.repeat(call, number=n, repeat=5)) / n * 1e6
        print(f"{name:45s} {best:8.1f} us")


if __name__ == "__main__":
    main()
