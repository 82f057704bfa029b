"""The built distribution: a wheel installed outside the checkout runs the first-run site.

The sdist is built first and the wheel from it (``python -m build``), so both must carry the
panel (``frontend/``), the shipped configuration (``config/``) and the blueprints
(``blueprints/``). The wheel goes into a fresh virtual environment under a temporary directory,
and the first-run end-to-end check runs against that environment's ``edgewise``.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from tests.e2e.test_first_run import check_living_site, start_first_run

CHECKOUT = Path(__file__).resolve().parents[2]
#: Files the runtime needs from each data directory, by their path in the distribution.
SHIPPED = (
    "frontend/index.html",
    "frontend/js/app.js",
    "frontend/vendor/uplot/uPlot.iife.min.js",
    "config/configuration.yaml",
    "config/automations.yaml",
    "config/scripts.yaml",
    "blueprints/automation/edgewise/motion_light.yaml",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from this checkout (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(CHECKOUT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_the_wheel_and_sdist_carry_the_panel_configuration_and_blueprints(dist: Path) -> None:
    (wheel,) = dist.glob("edgewise-*.whl")
    (sdist,) = dist.glob("edgewise-*.tar.gz")
    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/", 1)[0]
        sdist_names = {name.removeprefix(f"{root}/") for name in archive.getnames()}
    for name in SHIPPED:
        assert name in wheel_names, f"{name} is not in {wheel.name}"
        assert name in sdist_names, f"{name} is not in {sdist.name}"
    assert not any(name.startswith("config/.storage") for name in wheel_names)
    assert "config/secrets.yaml" not in wheel_names


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed; its bin/."""
    (wheel,) = dist.glob("edgewise-*.whl")
    env_dir = tmp_path_factory.mktemp("installed") / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # This environment's pip installs into the fresh one (pip --python), from the same indexes.
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    where = subprocess.run(
        [str(python), "-c", "import core, frontend; print(core.__file__)"],
        capture_output=True,
        text=True,
        cwd=env_dir,
        check=True,
    ).stdout
    assert str(CHECKOUT) not in where
    assert str(env_dir) in where
    return env_dir / "bin"


async def test_the_installed_wheel_serves_the_panel_and_the_simulated_site(
    installed: Path, tmp_path: Path
) -> None:
    with start_first_run(installed / "edgewise", tmp_path) as run:
        await check_living_site(run)
