"""Shared site configurations for the tariff tests."""

from __future__ import annotations

KOLKATA_PLAN = """\
  plan:
    name: Kolkata TOU
    fixed_daily_charge: 12
    export_price: 3.5
    day_sets:
      all_days:
        days: [mon, tue, wed, thu, fri, sat, sun, holiday]
        slots:
          - {start: "00:00", end: "06:00", price: 5.0, type: off_peak}
          - {start: "06:00", end: "18:00", price: 7.0, type: standard}
          - {start: "18:00", end: "22:00", price: 10.0, type: peak}
          - {start: "22:00", end: "24:00", price: 6.0, type: standard}
"""


def core_yaml(tz: str) -> str:
    """A core section in time zone ``tz``."""
    return (
        f"edgewise:\n  time_zone: {tz}\n  latitude: 22.57\n  longitude: 88.36\n"
        "http:\n  server_port: 0\n"
    )


def tariff_yaml(tz: str, body: str = KOLKATA_PLAN, extra: str = "", appliances: str = "") -> str:
    """A site with a tariff section (and optional appliances)."""
    text = core_yaml(tz)
    if appliances:
        text += "appliance:\n" + appliances
    return text + "tariff:\n  currency: INR\n  windows: ['01:00:00', '03:00:00']\n" + body + extra
