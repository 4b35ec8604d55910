"""Hostile autoconfig documents of 1 MiB: `advisor lint` and `verify --config`'s parser
against parsing the same bytes with defusedxml alone.

Documents (each a valid clientConfig, padded to 1 MiB):

- ``attributes``: one <incomingServer> with ~50,000 distinct unknown attributes;
- ``elements``: ~40,000 distinct unknown elements in <emailProvider>;
- ``repeated``: ~40,000 copies of the same unknown element.

Each is parsed by defusedxml (the baseline), linted (``advisor lint``), and read as
``verify --config`` reads it (parse, then fill in the placeholders). Runs are
interleaved; the figures are medians of CPU time (``time.process_time``).
Target: every one <= 1 s on this machine (the notes are de-duplicated with sets
and capped, so the work is linear).
Prints, asserts nothing.

    python bench/lint.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

SIZE = 1 << 20
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n'
    '<emailProvider id="example.com"><domain>example.com</domain>\n'
)
SERVERS = (
    '<incomingServer type="imap"{attrs}><hostname>imap.example.com</hostname>'
    "<port>993</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></incomingServer>\n"
    '<outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>465</port>'
    "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></outgoingServer>\n"
)
TAIL = "</emailProvider>\n</clientConfig>\n"


def _fill(make: Callable[[int], str], head: str, tail: str) -> str:
    """``head`` + as many ``make(i)`` as fit + ``tail``, at most 1 MiB in all."""
    parts, size, i = [], len(head) + len(tail), 0
    while size + len(part := make(i)) <= SIZE:
        parts.append(part)
        size += len(part)
        i += 1
    return head + "".join(parts) + tail


def documents() -> dict[str, bytes]:
    before, after = SERVERS.split("{attrs}")
    attributes = _fill(lambda i: f' x{i}="1"', HEAD + before, after + TAIL)
    body = HEAD + SERVERS.format(attrs="")
    elements = _fill(lambda i: f"<unknown{i}/>", body, TAIL)
    repeated = _fill(lambda _i: "<unknown/>", body, TAIL)
    return {
        "attributes": attributes.encode(),
        "elements": elements.encode(),
        "repeated": repeated.encode(),
    }


def _time(work: Callable[[], object]) -> float:
    # CPU time of this process: the figure means the same on a machine that other
    # work keeps busy (wall-clock time there measures the neighbours).
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import defusedxml.ElementTree as DefusedET

    from advisor.address import parse_address
    from advisor.formats.lint import lint
    from advisor.formats.mozilla import parse_client_config

    address = parse_address("jane@example.com")
    print(
        f"{'document':<11} {'bytes':>9} {'defusedxml':>11} {'lint':>9} {'ratio':>6}"
        f" {'--config':>9} {'ratio':>6}  notes"
    )
    for name, data in documents().items():
        tasks: dict[str, Callable[[], object]] = {
            "baseline": lambda data=data: DefusedET.fromstring(data),
            "lint": lambda data=data, name=name: lint(data, name=name),
            "config": lambda data=data: parse_client_config(data).for_address(address),
        }
        times: dict[str, list[float]] = {k: [] for k in tasks}
        for _ in range(args.runs):
            for key, work in tasks.items():
                times[key].append(_time(work))
        base, lnt, cfg = (statistics.median(times[k]) for k in ("baseline", "lint", "config"))
        report = lint(data, name=name)
        notes = len(parse_client_config(data).for_address(address).ignored)
        print(
            f"{name:<11} {len(data):>9} {base * 1000:>9.0f}ms {lnt * 1000:>7.0f}ms"
            f" {lnt / base:>5.1f}x {cfg * 1000:>7.0f}ms {cfg / base:>5.1f}x"
            f"  {len(report.warnings)} warnings, {notes} parser notes"
        )
    print("target: lint and --config <= 1 s each on a 1 MiB document")


if __name__ == "__main__":
    main()
