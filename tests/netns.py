"""Private network topologies for packet tests: real namespaces, real veth pairs, real TCP.

Every namespace is a fresh ``ip netns`` with a unique name, joined only to the others by veth
pairs created inside them, so no packet can reach the machine's own interfaces or leave it.
The *far end* owns every address: a ``local`` route for ``0.0.0.0/0`` and ``::/0`` (looked up
for packets arriving on its veth, so its own replies still route normally) makes the kernel
accept a connection to any address, and one listener on ``0.0.0.0``/``::`` per port answers
it. A probe therefore completes exactly when the firewall under test lets it through.

Run as a script inside a namespace (``python netns.py serve PORT...`` / ``probe``) it is also
the listener and the prober: ``probe`` reads ``[[address, port, source or null], ...]`` as
JSON on stdin and prints one ``true``/``false`` per probe (connected, sent a line and read the
listener's answer within the timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Probe", "Topology", "gateway_topology", "host_topology", "tally"]

SCRIPT = Path(__file__).resolve()
# Link addresses nothing probes: IPv4 link-local and a ULA only used here.
LINK4 = ("169.254.77.1", "169.254.77.2")
LINK6 = ("fd00:77::1", "fd00:77::2")
# The sensors' side of a gateway (private: never a probe target).
SENSOR_NET4 = ("10.77.0.1", "10.77.0.0/24")
SENSOR_NET6 = ("fd77::1", "fd77::/64")
_counter = itertools.count()


@dataclass(frozen=True)
class Probe:
    """A TCP connection to try: destination, port, and an optional source address."""

    address: str
    port: int
    source: str | None = None


@dataclass
class Topology:
    """Namespaces by role (``host``, ``gw``, ``far``, ``sensor``), torn down by :meth:`close`."""

    names: dict[str, str] = field(default_factory=dict)
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def add(self, role: str) -> str:
        name = f"tagsync-{os.getpid()}-{next(_counter)}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.names[role] = name
        self.run(role, "ip link set lo up")
        return name

    def run(
        self, role: str, script: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell script (``sh -e``) in one namespace."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.names[role], "sh", "-ec", script],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"in {role}: {script}\n{result.stdout}{result.stderr}")
        return result

    def popen(self, role: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["ip", "netns", "exec", self.names[role], *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def serve(self, role: str, *ports: int) -> None:
        """Listeners on every address of the namespace for ``ports`` (waits until bound)."""
        server = self.popen(role, sys.executable, str(SCRIPT), "serve", *map(str, ports))
        self.servers.append(server)
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.strip() == "ready", (line, server.stderr.read() if server.stderr else "")

    def probe(self, role: str, probes: Sequence[Probe], timeout: float = 2.0) -> list[bool]:
        """Try every probe from namespace ``role`` at once; True where it completed."""
        if not probes:
            return []
        data = json.dumps([[p.address, p.port, p.source] for p in probes])
        result = subprocess.run(
            ["ip", "netns", "exec", self.names[role], sys.executable, str(SCRIPT), "probe",
             str(timeout)],
            input=data, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(result.stderr)
        done: list[bool] = json.loads(result.stdout)
        return done

    def start_probing(
        self, role: str, probes: Sequence[Probe], timeout: float = 0.8
    ) -> subprocess.Popen[str]:
        """Probe ``probes`` over and over until :func:`stop_probing` (for re-apply tests).

        The timeout stays under TCP's initial retransmission timeout (1 s): a SYN dropped in
        a window between two states then fails the probe instead of being resent."""
        data = json.dumps([[p.address, p.port, p.source] for p in probes])
        prober = self.popen(role, sys.executable, str(SCRIPT), "loop", str(timeout))
        assert prober.stdin is not None and prober.stdout is not None
        prober.stdin.write(data + "\n")
        prober.stdin.flush()
        assert prober.stdout.readline().strip() == "started"
        return prober

    def settle(self, role: str, sources: Sequence[str | None]) -> None:
        """Wait until the far end answers from every source: the first packets of a new
        link wait for neighbour discovery (a SYN lost there is resent only after 1 s)."""
        probes = [Probe(far, 443, s) for s in sources for far in (LINK4[1], LINK6[1])
                  if s is None or (":" in s) == (":" in far)]  # fmt: skip
        for _ in range(20):
            if all(self.probe(role, probes, timeout=0.5)):
                return
        raise AssertionError(f"the far end never answered {probes}")

    def close(self) -> None:
        for server in self.servers:
            server.kill()
            server.communicate()
        for name in self.names.values():
            subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


def stop_probing(prober: subprocess.Popen[str]) -> tuple[int, list[Probe]]:
    """Stop a :meth:`Topology.start_probing` loop: (connections tried, the failed ones)."""
    assert prober.stdin is not None
    prober.stdin.write("stop\n")
    prober.stdin.flush()
    out, err = prober.communicate(timeout=60)
    assert prober.returncode == 0, err
    report = json.loads(out)
    return report["tried"], [Probe(a, p, s) for a, p, s in report["failed"]]


def _far_end(topology: Topology, veth: str, returns: Sequence[str] = ()) -> None:
    """The far end owns every address: ``local`` routes for ``0.0.0.0/0`` and ``::/0`` in the
    local table (a reply's source must be local there), plus more specific unicast routes
    in the same table for the networks its replies go back to (``returns``, ``ip route``
    arguments), which win the longest-prefix match."""
    routes = "\n".join(f"ip {'-6 ' if ':' in r else ''}route add {r} table local" for r in returns)
    topology.run(
        "far",
        f"""
        sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.{veth}.rp_filter=0
        ip route add 169.254.77.0/30 dev {veth} table local
        ip -6 route add fd00:77::/64 dev {veth} table local
        {routes}
        ip route add local 0.0.0.0/0 dev lo
        ip -6 route add local ::/0 dev lo
        """,
    )
    topology.serve("far", 443, 80, 53, 445, 135, 3389)


def _link(topology: Topology, left: str, lname: str, right: str, rname: str) -> None:
    """A veth pair made inside ``left``'s namespace, its peer moved straight to ``right``."""
    topology.run(
        left,
        f"ip link add {lname} type veth peer name {rname} netns {topology.names[right]}\n"
        f"ip link set {lname} up",
    )
    topology.run(right, f"ip link set {rname} up")


@contextmanager
def host_topology() -> Iterator[Topology]:
    """``host`` (the machine under test) --veth-- ``far`` (owns every address)."""
    topology = Topology()
    try:
        topology.add("host")
        topology.add("far")
        _link(topology, "host", "h0", "far", "f0")
        topology.run(
            "host",
            f"""
            ip addr add {LINK4[0]}/30 dev h0
            ip -6 addr add {LINK6[0]}/64 dev h0 nodad
            ip route add default via {LINK4[1]} dev h0
            ip -6 route add default via {LINK6[1]} dev h0
            """,
        )
        topology.run(
            "far",
            f"ip addr add {LINK4[1]}/30 dev f0\nip -6 addr add {LINK6[1]}/64 dev f0 nodad",
        )
        _far_end(topology, "f0")
        topology.settle("host", [None])
        yield topology
    finally:
        topology.close()


@contextmanager
def gateway_topology(sources4: Sequence[str], sources6: Sequence[str]) -> Iterator[Topology]:
    """``sensor`` (one address per source) --veth-- ``gw`` (forwards; under test) --veth--
    ``far`` (owns every address)."""
    topology = Topology()
    try:
        for role in ("sensor", "gw", "far"):
            topology.add(role)
        _link(topology, "sensor", "s0", "gw", "g0")
        _link(topology, "gw", "g1", "far", "f0")
        adds = "\n".join(
            [f"ip addr add {a}/24 dev s0" for a in sources4]
            + [f"ip -6 addr add {a}/64 dev s0 nodad" for a in sources6]
        )
        topology.run(
            "sensor",
            f"""
            {adds}
            ip route add default via {SENSOR_NET4[0]} dev s0
            ip -6 route add default via {SENSOR_NET6[0]} dev s0
            """,
        )
        topology.run(
            "gw",
            f"""
            sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
            ip addr add {SENSOR_NET4[0]}/24 dev g0
            ip -6 addr add {SENSOR_NET6[0]}/64 dev g0 nodad
            ip addr add {LINK4[0]}/30 dev g1
            ip -6 addr add {LINK6[0]}/64 dev g1 nodad
            ip route add default via {LINK4[1]} dev g1
            ip -6 route add default via {LINK6[1]} dev g1
            """,
        )
        topology.run(
            "far",
            f"""
            ip addr add {LINK4[1]}/30 dev f0
            ip -6 addr add {LINK6[1]}/64 dev f0 nodad
            """,
        )
        returns = (
            f"{SENSOR_NET4[1]} via {LINK4[0]} dev f0",
            f"{SENSOR_NET6[1]} via {LINK6[0]} dev f0",
        )
        _far_end(topology, "f0", returns)
        topology.settle("sensor", [*sources4, *sources6])
        yield topology
    finally:
        topology.close()


def tally(scenario: str, probes: Sequence[Probe], done: Sequence[bool], allowed: set[Probe]) -> str:
    """One line of counts (probed, passed, leaked, lost) and the first few wrong probes."""
    passed = sum(done)
    leaked = [p for p, ok in zip(probes, done, strict=True) if ok and p not in allowed]
    lost = [p for p, ok in zip(probes, done, strict=True) if not ok and p in allowed]
    line = (
        f"{scenario}: probed {len(probes)}, passed {passed}, leaked {len(leaked)}, lost {len(lost)}"
    )
    print(line)
    _REPORT.append(line)
    if leaked or lost:
        line += f"; leaked e.g. {leaked[:3]}; lost e.g. {lost[:3]}"
    return line


_REPORT: list[str] = []


# --- The in-namespace side: listener and prober ---------------------------------------------
async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readline()
        writer.write(b"ok\n")
        await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def _serve(ports: list[int]) -> None:
    import socket

    servers = []
    for port in ports:
        servers.append(await asyncio.start_server(_answer, "0.0.0.0", port, backlog=1024))
        six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        six.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        six.bind(("::", port))
        servers.append(await asyncio.start_server(_answer, sock=six, backlog=1024))
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _one(probe: list[object], timeout: float, limit: asyncio.Semaphore) -> bool:
    address, port, source = probe
    async with limit:
        try:
            local = (str(source), 0) if source else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(str(address), int(str(port)), local_addr=local), timeout
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"ping\n")
            answer = await asyncio.wait_for(reader.readline(), timeout)
            return answer == b"ok\n"
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()


async def _probe_all(probes: list[list[object]], timeout: float) -> list[bool]:
    limit = asyncio.Semaphore(400)
    return list(await asyncio.gather(*(_one(p, timeout, limit) for p in probes)))


async def _loop(probes: list[list[object]], timeout: float) -> dict[str, object]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)
    print("started", flush=True)
    tried, failed = 0, []
    while not stop.is_set():
        done = await _probe_all(probes, timeout)
        tried += len(done)
        failed += [p for p, ok in zip(probes, done, strict=True) if not ok]
    return {"tried": tried, "failed": failed}


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "serve":
        asyncio.run(_serve([int(a) for a in args]))
    elif command == "probe":
        probes = json.loads(sys.stdin.read())
        print(json.dumps(asyncio.run(_probe_all(probes, float(args[0])))))
    elif command == "loop":
        probes = json.loads(sys.stdin.readline())
        started = time.monotonic()
        report = asyncio.run(_loop(probes, float(args[0])))
        report["seconds"] = time.monotonic() - started
        print(json.dumps(report))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
