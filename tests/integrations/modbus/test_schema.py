"""The ``modbus:`` section: Home Assistant YAML loads; bad entities are named by file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from core.config import load_site_config
from integrations.modbus.codec import DataType
from integrations.modbus.const import HubType, InputType, Swap
from integrations.modbus.model import BinarySensorConfig, ModbusConfig, SensorConfig, SwitchConfig
from integrations.modbus.schema import CONFIG_SCHEMA

HA_CONFIG = """\
modbus:
  - name: hub1
    type: tcp
    host: 192.0.2.10
    port: 502
    close_comm_on_error: true
    delay: 1
    timeout: 5
    message_wait_milliseconds: 30
    sensors:
      - name: Sensor1
        unit_of_measurement: °C
        slave: 1
        address: 100
        scan_interval: 10
        lazy_error_count: 2
      - name: Sensor3
        unique_id: sensor3
        unit_of_measurement: °C
        slave: 1
        address: 120
        input_type: input
        data_type: float32
        swap: word
        scale: 0.01
        offset: -273.16
        precision: 2
        device_class: temperature
        state_class: measurement
      - name: Meter
        address: 200
        data_type: uint32
        slave_count: 2
        nan_value: "0xFFFFFFFF"
    binary_sensors:
      - name: binary_sensor1
        address: 100
        slave: 1
        device_class: door
      - name: binary_sensor2
        address: 110
        input_type: discrete_input
        slave_count: 1
    switches:
      - name: Switch1
        address: 13
        write_type: coil
        verify:
      - name: Register1
        slave: 2
        address: 11
        command_on: 1
        command_off: 0
        verify:
          input_type: holding
          address: 127
          state_on: 25
          state_off: 1
  - name: bus
    type: serial
    baudrate: 9600
    bytesize: 8
    method: rtu
    parity: E
    port: /dev/ttyUSB0
    stopbits: 1
"""


def _issues(config_dir: Path, text: str) -> list[str]:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    loaded = load_site_config(config_dir, {"modbus": CONFIG_SCHEMA})
    return [str(issue) for issue in loaded.issues]


def _load(config_dir: Path, text: str) -> ModbusConfig:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    loaded = load_site_config(config_dir, {"modbus": CONFIG_SCHEMA})
    assert not loaded.issues, [str(i) for i in loaded.issues]
    config = loaded.integrations["modbus"]
    assert isinstance(config, ModbusConfig)
    return config


def test_home_assistant_configuration_loads_unchanged(tmp_path: Path) -> None:
    config = _load(tmp_path, HA_CONFIG)
    hub, bus = config.hubs
    assert (hub.name, hub.type, hub.host, hub.port) == ("hub1", HubType.TCP, "192.0.2.10", 502)
    assert (hub.timeout, hub.delay, hub.message_wait) == (5.0, 1.0, 0.03)
    assert bus.type is HubType.SERIAL
    assert bus.serial_port == "/dev/ttyUSB0"
    assert bus.message_wait == 0.03  # Home Assistant's serial default
    assert not bus.parallel
    sensors = [e for e in hub.entities if isinstance(e, SensorConfig)]
    assert [s.name for s in sensors] == ["Sensor1", "Sensor3", "Meter", "Meter 1", "Meter 2"]
    sensor3 = sensors[1]
    assert sensor3.layout.data_type is DataType.FLOAT32
    assert sensor3.layout.swap is Swap.WORD
    assert sensor3.input_type is InputType.INPUT
    assert sensor3.transform.offset == -273.16
    assert [s.address for s in sensors[2:]] == [200, 202, 204]
    assert sensors[2].transform.nan_value == 0xFFFFFFFF
    binaries = [e for e in hub.entities if isinstance(e, BinarySensorConfig)]
    assert [(b.name, b.address) for b in binaries] == [
        ("binary_sensor1", 100),
        ("binary_sensor2", 110),
        ("binary_sensor2 1", 111),
    ]
    switch1, register1 = (e for e in hub.entities if isinstance(e, SwitchConfig))
    assert switch1.verify is not None
    assert (switch1.verify.address, switch1.verify.input_type) == (13, InputType.COIL)
    assert register1.verify is not None
    assert (register1.slave, register1.verify.address, register1.verify.state_on) == (2, 127, 25)


def test_count_too_small_for_the_data_type_is_named_with_its_line(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """\
        modbus:
          - name: hub1
            type: tcp
            host: 192.0.2.10
            port: 502
            sensors:
              - name: Energy
                address: 10
                data_type: int32
                count: 1
        """,
    )
    assert issues == [
        "configuration.yaml, line 10: modbus.0.sensors.0.count: count 1 is too small for "
        "data_type int32, which takes 2 registers, got 1"
    ]


def test_word_swap_on_a_16_bit_type_is_refused(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """\
        modbus:
          - type: tcp
            host: 192.0.2.10
            port: 502
            sensors:
              - name: Fine
                address: 1
                data_type: int16
                swap: byte
              - name: Wrong
                address: 2
                data_type: uint16
                swap: word
        """,
    )
    assert len(issues) == 1
    assert issues[0].startswith("configuration.yaml, line 13: modbus.0.sensors.1.swap: swap word")
    assert "one register" in issues[0]


def test_overlapping_entities_of_different_types_are_refused(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """\
        modbus:
          - type: tcp
            host: 192.0.2.10
            port: 502
            sensors:
              - name: Power
                address: 100
                data_type: float32
              - name: Same power, scaled
                address: 100
                data_type: float32
                scale: 0.001
              - name: Status
                address: 101
                data_type: uint16
        """,
    )
    assert len(issues) == 1
    assert issues[0].startswith("configuration.yaml, line 14: modbus.0.sensors.2.address: ")
    assert "'Status' (device 1, holding 101 as uint16) overlaps 'Power'" in issues[0]


def test_custom_structure_must_fill_count_and_types_must_be_known(tmp_path: Path) -> None:
    hub = """\
        modbus:
          - type: tcp
            host: 192.0.2.10
            port: 502
            sensors:
              - name: Pair
                address: 1
                data_type: {data_type}
                structure: ">hh"
                count: 3
        """
    (first,) = _issues(tmp_path, hub.format(data_type="custom"))
    assert first.startswith("configuration.yaml, line 9: modbus.0.sensors.0.structure: ")
    assert "'>hh' is 4 bytes but count 3 gives 6 bytes" in first
    (second,) = _issues(tmp_path, hub.format(data_type="int24"))
    assert second.startswith("configuration.yaml, line 8: modbus.0.sensors.0.data_type: ")
    assert "unknown data_type 'int24'" in second


def test_entity_in_a_forbidden_range_and_duplicate_hub_names(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """\
        modbus:
          - name: a
            type: tcp
            host: 192.0.2.10
            port: 502
            devices:
              - slave: 1
                forbidden:
                  - {input_type: holding, start: 50, end: 59}
            sensors:
              - name: Hidden
                address: 58
                data_type: int32
          - name: a
            type: udp
            host: 192.0.2.11
            port: 502
        """,
    )
    assert any(
        "line 12" in i and "lies in the forbidden range 50-59 of device 1" in i for i in issues
    )
    assert any("line 14" in i and "hub name 'a' is already used" in i for i in issues)


def test_serial_hub_needs_its_line_settings(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """\
        modbus:
          - type: serial
            port: /dev/ttyUSB0
            baudrate: 9600
        """,
    )
    assert sorted(i.split(": ")[1] for i in issues) == [
        "modbus.0.bytesize",
        "modbus.0.method",
        "modbus.0.parity",
        "modbus.0.stopbits",
    ]


def test_the_example_in_the_schema_docstring_is_valid() -> None:
    import yaml

    from integrations.modbus import schema

    doc = schema.__doc__ or ""
    example = doc[doc.index("    modbus:") : doc.index("Errors name")]
    config = CONFIG_SCHEMA(yaml.safe_load(textwrap.dedent(example))["modbus"])
    assert [e.name for e in config.hubs[0].entities][:3] == [
        "Grid power",
        "Phase voltage",
        "Phase voltage 1",
    ]
