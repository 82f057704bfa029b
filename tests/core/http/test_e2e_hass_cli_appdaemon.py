"""End to end: hass-cli (through its Python entry point) and AppDaemon's HASS plugin driving one
app, both unmodified from PyPI, against ``edgewise run`` in a subprocess.

They pin versions of aiohttp and ruamel.yaml older than Edgewise's, so they run from a venv of
their own (``tests._client_venv``) and reach Edgewise over loopback, as in a real installation.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests._client_venv import client_venv
from tests.conftest import ConfigDirFactory, EdgewiseFactory

from .test_e2e_hass_client import make_token

PROBE_APP = """
import json
import os

import appdaemon.plugins.hass.hassapi as hass


class Probe(hass.Hass):
    async def initialize(self):
        results = {}
        calls = (
            ("turn_on", lambda: self.turn_on("input_boolean.porch")),
            ("get_state after turn_on", lambda: self.get_state("input_boolean.porch")),
            ("toggle", lambda: self.toggle("input_boolean.porch")),
            ("get_state after toggle", lambda: self.get_state("input_boolean.porch")),
            ("turn_off", lambda: self.turn_off("input_boolean.porch")),
            ("set_state", lambda: self.set_state("sensor.appdaemon_probe", state="42")),
            ("get_history", lambda: self.get_history(entity_id="input_boolean.porch", days=1)),
        )
        for name, call in calls:
            try:
                value = await call()
                results[name] = ["ok", value if name.startswith("get_state") else None]
            except Exception as err:
                results[name] = ["failed", f"{type(err).__name__}: {err}"]
        with open(self.args["out"] + ".part", "w") as out:
            json.dump(results, out)
        os.replace(self.args["out"] + ".part", self.args["out"])
"""


def _site(config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, port: int) -> tuple[Any, str]:
    site = config_dir(
        f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
        "input_boolean:\n  porch:\n    name: Porch light\nsimulator:\n"
    )
    token = make_token(Path(site))
    process = edgewise("run", "-c", site, port=port)
    process.wait_ready(30.0)
    return process, token


def _hass_cli(python: Path, url: str, token: str, *args: str) -> Any:
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import sys; from homeassistant_cli.cli import run; sys.argv[0] = 'hass-cli'; run()",
            "--server",
            url,
            "--token",
            token,
            "--timeout",
            "20",
            "-o",
            "json",
            *args,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    text = done.stdout.strip()
    return json.loads(text) if text.startswith(("[", "{")) else text


def test_hass_cli_commands_against_a_running_edgewise(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int
) -> None:
    python = client_venv()
    process, token = _site(config_dir, edgewise, unused_port)
    url = f"http://127.0.0.1:{unused_port}"

    def cli(*args: str) -> Any:
        return _hass_cli(python, url, token, *args)

    # homeassistant.turn_on / toggle, which hass-cli's state commands call.
    assert cli("state", "turn_on", "input_boolean.porch")[0]["state"] == "on"
    assert cli("state", "toggle", "input_boolean.porch")[0]["state"] == "off"
    # Registry writes.
    assert cli("area", "create", "Hall")[0]["result"]["area_id"] == "hall"
    renamed = cli("entity", "rename", "input_boolean.porch", "input_boolean.lamp")
    assert renamed[0]["result"]["entity_entry"]["entity_id"] == "input_boolean.lamp"
    assert "Successfully assigned" in cli("entity", "assign", "Hall", "input_boolean.lamp")
    [lamp] = cli("entity", "list", "input_boolean.lamp")
    assert lamp["area_id"] == "hall"
    assert "Successfully assigned" in cli("device", "assign", "Hall", "Simulator")
    [device] = [d for d in cli("device", "list") if d["name"] == "Simulator"]
    assert device["area_id"] == "hall"
    # Service descriptions.
    services = {(s["domain"], s["service"]): s for s in cli("service", "list", "homeassistant")}
    assert services["homeassistant", "turn_on"]["target"] == {"entity": [{}]}
    assert services["homeassistant", "set_location"]["fields"]["latitude"]["required"] is True
    assert process.stop() == 0


def test_appdaemon_app_drives_entities_through_the_hass_plugin(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int, tmp_path: Path
) -> None:
    python = client_venv()
    process, token = _site(config_dir, edgewise, unused_port)
    conf = tmp_path / "appdaemon"
    (conf / "apps").mkdir(parents=True)
    out = tmp_path / "probe.json"
    (conf / "appdaemon.yaml").write_text(
        "appdaemon:\n  time_zone: UTC\n  latitude: 52.37\n  longitude: 4.89\n  elevation: 0\n"
        "  plugins:\n    HASS:\n      type: hass\n"
        f"      ha_url: http://127.0.0.1:{unused_port}\n      token: {token}\n"
        f"logs:\n  main_log:\n    filename: {conf / 'main.log'}\n"
    )
    (conf / "apps" / "apps.yaml").write_text(
        f"probe:\n  module: probe\n  class: Probe\n  out: {out}\n"
    )
    (conf / "apps" / "probe.py").write_text(PROBE_APP)
    appdaemon = subprocess.Popen(
        [str(python), "-m", "appdaemon", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not out.exists():
            if appdaemon.poll() is not None or time.monotonic() > deadline:
                log = (conf / "main.log").read_text() if (conf / "main.log").exists() else ""
                pytest.fail(f"AppDaemon did not run the app:\n{log[-3000:]}")
            time.sleep(0.2)  # another process writes the file: nothing to await
        results = json.loads(out.read_text())
    finally:
        appdaemon.terminate()
        appdaemon.wait(30)
    assert results == {
        "turn_on": ["ok", None],
        "get_state after turn_on": ["ok", "on"],
        "toggle": ["ok", None],
        "get_state after toggle": ["ok", "off"],
        "turn_off": ["ok", None],
        "set_state": ["ok", None],
        "get_history": ["ok", None],
    }
    assert process.stop() == 0
