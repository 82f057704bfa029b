"""Broadcast discovery between two network namespaces joined by a veth pair.

bacpypes3 never sends a broadcast to itself on loopback, so a global Who-Is needs a real link:
the test makes two namespaces (the device's and Edgewise's) with a private /24 that exists only
inside them, runs the device and Edgewise there, and deletes the namespaces afterwards even when
the test fails. It needs root; under ``CI=true`` a failure to create the namespaces fails the
test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import client_yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
PORT = 47808


@dataclass(frozen=True)
class Namespaces:
    device: str
    client: str
    device_ip: str
    client_ip: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _delete(names: list[str]) -> None:
    for name in names:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10, check=False)


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    """Two namespaces joined by a veth pair on 10.<r>.<r>.0/24; deleted at teardown."""
    tag = f"{os.getpid() % 10000}{secrets.randbelow(100)}"
    dev_ns, cli_ns = f"ewbacdev{tag}", f"ewbaccli{tag}"
    dev_if, cli_if = f"ewd{tag}", f"ewc{tag}"
    subnet = f"10.{100 + secrets.randbelow(150)}.{1 + secrets.randbelow(249)}"
    made: list[str] = []
    try:
        for name in (dev_ns, cli_ns):
            _ip("netns", "add", name)
            made.append(name)
        _ip("link", "add", dev_if, "type", "veth", "peer", "name", cli_if)
        _ip("link", "set", dev_if, "netns", dev_ns)
        _ip("link", "set", cli_if, "netns", cli_ns)
        for ns, ifname, host in ((dev_ns, dev_if, 1), (cli_ns, cli_if, 2)):
            _ip("-n", ns, "addr", "add", f"{subnet}.{host}/24", "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
    except (OSError, subprocess.SubprocessError) as err:
        _delete(made)
        detail = getattr(err, "stderr", "") or str(err)
        message = f"cannot create network namespaces (root and iproute2 needed): {detail}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield Namespaces(dev_ns, cli_ns, f"{subnet}.1", f"{subnet}.2")
    finally:
        _delete(made)


def test_global_who_is_finds_a_device_on_another_host(
    namespaces: Namespaces, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    device = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespaces.device,
            sys.executable,
            str(HERE / "device.py"),
            f"{namespaces.device_ip}/24:{PORT}",
            "1201",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert device.stdout is not None
        assert device.stdout.readline().strip() == "ready", device.stderr
        (tmp_path / "configuration.yaml").write_text(
            client_yaml(599002, f"{namespaces.client_ip}/24", PORT, timeout=2)
            + "  devices:\n"
            + "    - name: Remote\n"
            + "      instance: 1201\n"
            + "      points:\n"
            + "        - object: analog-input,1\n"
            + "          name: Supply temperature\n"
        )
        client = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                namespaces.client,
                sys.executable,
                str(HERE / "netns_client.py"),
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        lines = [line for line in client.stdout.splitlines() if line.startswith("{")]
        assert lines, client.stdout + client.stderr
        result = json.loads(lines[-1])
        # Found by a broadcast Who-Is for its instance, then read.
        assert result["state"] == "18.5"
        found = result["discover"]["devices"]
        # bacpypes3 writes an address on the standard port 47808 without the port.
        assert [(d["instance"], d["address"], d["configured"]) for d in found] == [
            (1201, namespaces.device_ip, True)
        ]
        assert [d["instance"] for d in result["ranged"]["devices"]] == [1201]
    finally:
        device.kill()
        device.wait(timeout=10)
