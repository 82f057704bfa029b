"""tinytuya, lighter: its cloud client's ``requests`` stays unloaded until a cloud call needs it,
and it encrypts with PyCryptodomex, so cryptography stays unloaded until something else needs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.simulator.const import ApplianceKind
from integrations.simulator.tuya_server import device_id
from tests._helpers import free_port

REPO = Path(__file__).resolve().parents[3]
KEY = "edgewise-sim-key"

#: Run in a fresh interpreter (this one imported tinytuya long ago): start the simulator's plug
#: and the tuya integration on it, wait for the plug's switch, then report what is loaded.
_SCRIPT = """
import asyncio, json, sys
from datetime import UTC, datetime
from pathlib import Path
from tests._helpers import wait_for
from tests.integrations._runtime import running

async def main(config_dir, site):
    async with running(Path(config_dir), site, datetime(2024, 7, 3, 12, tzinfo=UTC)) as runtime:
        # Answered over the wire: the session's frames were encrypted and decrypted both ways.
        await wait_for(
            lambda: getattr(runtime.states.get("switch.dishwasher_smart_plug"), "state", None)
            in ("on", "off"),
            "the plug's answer",
        )
        report = {
            "tinytuya": "tinytuya" in sys.modules,
            "requests": type(sys.modules.get("requests")).__name__,
            "urllib3": "urllib3" in sys.modules,
            "cipher": sys.modules["tinytuya.core.crypto_helper"].AESCipher.CRYPTOLIB,
            "cryptography": "cryptography" in sys.modules,
            "cffi": "cffi" in sys.modules,
            "colorama": "colorama" in sys.modules,
        }
    cloud = sys.modules["tinytuya.Cloud"]
    report["session"] = cloud.requests.Session.__module__
    report["loaded_after_use"] = type(sys.modules["requests"]).__name__
    import cffi, cryptography.fernet  # what else uses them still can
    report["fernet"] = cryptography.fernet.__name__
    report["ffi"] = type(cffi.FFI()).__name__
    print(json.dumps(report))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _site(port: int, version: float = 3.3) -> str:
    return f"""\
http: {{server_host: 127.0.0.1, server_port: 0}}
simulator:
  building: false
  home: {{appliances: [dishwasher], schedules: false}}
  tuya: {{port: {port}, version: {version}}}
tuya:
  devices:
    - {{device_id: {device_id(ApplianceKind.DISHWASHER)}, local_key: {KEY}, host: 127.0.0.1,
       port: {port}, version: {version}, name: Dishwasher smart plug}}
"""


def _run_site(tmp_path: Path, version: float = 3.3) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), _site(free_port(), version)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_requests_loads_only_when_tinytuyas_cloud_client_uses_it(tmp_path: Path) -> None:
    report = _run_site(tmp_path)

    # Running: tinytuya drives the plug, requests is the stand-in and its HTTP stack unloaded.
    assert report["tinytuya"] is True
    assert report["requests"] == "DeferredModule"
    assert report["urllib3"] is False
    # The first use (a cloud call's) imports the real module, which replaces the stand-in.
    assert report["session"] == "requests.sessions"
    assert report["loaded_after_use"] == "module"


@pytest.mark.parametrize("version", [3.3, 3.5])
def test_tinytuya_encrypts_with_pycryptodomex_and_cryptography_stays_unloaded(
    tmp_path: Path, version: float
) -> None:
    # 3.3 frames are AES-ECB, 3.5 frames AES-GCM; the simulator's plug and the session both
    # run in this process, so both ends use the backend chosen.
    report = _run_site(tmp_path, version)

    assert report["cipher"] == "PyCryptodomex"
    assert report["cryptography"] is False
    assert report["cffi"] is False  # PyCryptodomex calls its C code through ctypes
    assert report["colorama"] is False
    assert report["fernet"] == "cryptography.fernet"
    assert report["ffi"] == "FFI"
