"""Panel benchmarks: first load size, time until live, main-thread load, reconnect after restart.

Run: ``python bench/panel.py`` (from the repository, with Edgewise and the test extra installed,
and Debian's chromium at /usr/bin/chromium). Prints one JSON object per figure; see
bench/README.md. The server is a real Runtime in this process; the browser is headless chromium
driven by Playwright, measured through the Chrome DevTools Protocol.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path
from playwright.async_api import Browser, async_playwright

from core.auth import Role
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime, tune_gc

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUNS = 5
#: Records when the overview first shows an entity's state (the page is then live).
LIVE_PROBE = """
new MutationObserver((_, observer) => {
  if (document.querySelector("li.entity .state")) {
    window.__liveAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


class _Nothing:
    """An integration that does nothing, so the runtime loads no entry points."""

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="bench", name="Bench", config_schema=None, default=True)


def add_entities(runtime: Runtime, count: int) -> list[str]:
    """``count`` entities, a tenth of them switches (with a control), the rest sensors."""
    ids = []
    for i in range(count):
        if i % 10 == 0:
            entity_id = f"switch.bench_{i}"
            runtime.states.set(entity_id, "off", {"friendly_name": f"Bench switch {i}"})
        else:
            entity_id = f"sensor.bench_{i}"
            runtime.states.set(
                entity_id,
                str(i),
                {"unit_of_measurement": "W", "friendly_name": f"Bench sensor {i}"},
            )
        ids.append(entity_id)
    return ids


async def login_script(runtime: Runtime) -> str:
    """A script that puts an admin's token where the panel keeps its session."""
    assert runtime.http is not None
    user = await runtime.http.auth.create_user("bench", "bench-password", role=Role.ADMIN)
    _, token = await runtime.http.auth.create_long_lived_token(user, "bench")
    session = {"access_token": token, "refresh_token": "unused", "expires": 4102444800000}
    return f"localStorage.setItem('edgewise.auth', {json.dumps(json.dumps(session))});"


async def cold_load(browser: Browser, url: str, init: str) -> tuple[float, int, int]:
    """Load the panel in a fresh context (empty cache); time to live, HTTP bytes, WS bytes."""
    # bypass_csp: Playwright evaluates its wait predicates as strings (the panel forbids eval).
    context = await browser.new_context(bypass_csp=True)
    await context.add_init_script(init + LIVE_PROBE)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    http_bytes = 0
    ws_bytes = 0

    def finished(event: dict[str, Any]) -> None:
        nonlocal http_bytes
        http_bytes += int(event["encodedDataLength"])

    def frame(event: dict[str, Any]) -> None:
        nonlocal ws_bytes
        ws_bytes += len(event["response"]["payloadData"].encode())

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.webSocketFrameReceived", frame)
    await page.goto(url)
    await page.wait_for_function("window.__liveAt !== undefined", timeout=30_000)
    live_ms = float(await page.evaluate("window.__liveAt"))
    await context.close()
    return live_ms, http_bytes, ws_bytes


async def main_thread_load(browser: Browser, runtime: Runtime, url: str, init: str) -> list[float]:
    """Main-thread ms per second while 1,000 entities take 200 changes/s (10 s window)."""
    ids = add_entities(runtime, 1000)
    sensors = [e for e in ids if e.startswith("sensor.")]
    # bypass_csp: Playwright evaluates its wait predicates as strings (the panel forbids eval).
    context = await browser.new_context(bypass_csp=True)
    await context.add_init_script(init + LIVE_PROBE)
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function(
        "document.querySelectorAll('li.entity').length >= 1000", timeout=60_000
    )
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    rng = random.Random(1)  # noqa: S311 - picks which sensors change, not a secret
    stop = asyncio.Event()

    async def change() -> None:
        # 200 changes/s as 10 every 50 ms.
        while not stop.is_set():
            for entity_id in rng.sample(sensors, 10):
                runtime.states.set(
                    entity_id,
                    str(rng.randint(0, 5000)),
                    {"unit_of_measurement": "W", "friendly_name": entity_id},
                )
            await asyncio.sleep(0.05)

    async def task_seconds() -> float:
        metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))

    changer = asyncio.create_task(change())
    await asyncio.sleep(2)  # settle
    per_second = []
    for _ in range(RUNS):
        before, started = await task_seconds(), time.perf_counter()
        await asyncio.sleep(2)
        after, ended = await task_seconds(), time.perf_counter()
        per_second.append((after - before) * 1000 / (ended - started))
    stop.set()
    await changer
    await context.close()
    return per_second


async def session_script(runtime: Runtime, origin: str) -> str:
    """A script that puts a real login session (refresh and access token) in the panel's store."""
    assert runtime.http is not None
    auth = runtime.http.auth
    user = auth.data.user_by_username("bench")
    assert user is not None
    grant, refresh = await auth.create_refresh_token(user, f"{origin}/")
    access = auth.create_access_token(grant)
    session = {
        "access_token": access,
        "refresh_token": refresh,
        "expires": int(time.time() * 1000 + grant.access_token_expiration * 1000),
    }
    return f"localStorage.setItem('edgewise.auth', {json.dumps(json.dumps(session))});"


async def reconnect_after_restart(
    browser: Browser, runtime: Runtime, site: Path, url: str
) -> tuple[list[float], Runtime]:
    """Seconds from a restart begun to an open tab live again; and the runtime left running."""
    assert runtime.http is not None
    port = runtime.http.port
    init = await session_script(runtime, url.rstrip("/"))
    context = await browser.new_context(bypass_csp=True)
    await context.add_init_script(init)
    page = await context.new_page()
    await page.goto(url)
    live = "document.querySelector('header .conn')?.textContent === 'Live'"
    await page.wait_for_function(live, timeout=30_000)
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await runtime.stop()
        await page.wait_for_function(f"!({live})", timeout=30_000)
        loader = IntegrationLoader()
        loader.register(_Nothing(), source="bench")
        runtime = Runtime(site, loader=loader, http_port=port)
        await runtime.start()
        await page.wait_for_function(live, timeout=30_000, polling=20)
        seconds.append(time.perf_counter() - started)
    await context.close()
    return seconds, runtime


async def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        (site / "configuration.yaml").write_text(
            "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        )
        loader = IntegrationLoader()
        loader.register(_Nothing(), source="bench")
        runtime = Runtime(site, loader=loader)
        await runtime.start()
        tune_gc()
        assert runtime.http is not None
        url = f"http://127.0.0.1:{runtime.http.port}/"
        init = await login_script(runtime)
        add_entities(runtime, 50)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            await cold_load(browser, url, init)  # the server reads and gzips the bundle once
            loads = [await cold_load(browser, url, init) for _ in range(RUNS)]
            live = [ms for ms, _, _ in loads]
            kb = [http / 1024 for _, http, _ in loads]
            ws_kb = [ws / 1024 for _, _, ws in loads]
            emit(
                "panel_first_load_kb",
                kb,
                "KB",
                "HTTP bytes on the wire (gzip, headers included) of a cold load to a live overview "
                f"of 50 entities; the WebSocket brought {statistics.median(ws_kb):.1f} KB more",
            )
            emit(
                "panel_time_to_live_ms",
                live,
                "ms",
                "navigation start to the first entity state shown, cold cache, loopback, "
                f"median of {RUNS}",
            )
            busy = await main_thread_load(browser, runtime, url, init)
            emit(
                "panel_main_thread_ms_per_s",
                busy,
                "ms/s",
                "main-thread task time per second (CDP TaskDuration), overview of 1,050 entities "
                "receiving 200 state changes/s; median of windows of 2 s",
            )
            restarts, runtime = await reconnect_after_restart(browser, runtime, site, url)
            emit(
                "panel_reconnect_after_restart_s",
                restarts,
                "s",
                "an open tab with a login session: server stop begun until the tab shows Live "
                "again (stop and start of the runtime included; no login, no ban); median of "
                f"{RUNS} restarts",
            )
            await browser.close()
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(run())
