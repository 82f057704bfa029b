"""Edgewise's automation engine: Home Assistant automation and script YAML, run fast and traced.

Two integrations live here, registered through the ``edgewise.integrations`` entry points:
``automation = "automations.integration"`` (the ``automation:`` section) and
``script = "automations.script_integration"`` (the ``script:`` section).

Modules: ``schema`` (what the YAML may say), ``triggers`` and ``conditions`` (packages: one
module per built-in platform, each of the plugin protocol of ``core.trigger``/``core.condition``),
``script`` (actions, modes), ``automation`` and ``manager`` (loading, reload, entities), ``trace``,
``blueprint``, ``config_store`` (editing ``automations.yaml`` and ``scripts.yaml``), ``api`` (the
functions below).

Functions for the HTTP/WebSocket API (all in ``automations.api``, all called on the loop):

* ``list_traces(runtime, domain=None, item_id=None) -> list[dict]`` — HA's ``trace/list``.
* ``get_trace(runtime, domain, item_id, run_id) -> dict | None`` — HA's ``trace/get``.
* ``await execute_script(runtime, sequence, variables=None, context=None) -> dict`` — HA's
  ``execute_script``; returns ``{"response", "execution", "error", "run_id"}``.
* ``await subscribe_trigger(runtime, trigger, on_trigger, variables=None) -> unsubscribe`` —
  HA's ``subscribe_trigger``; ``on_trigger({"trigger": data}, context)`` on each firing.
* ``validate_config(runtime, triggers=..., conditions=..., actions=...) -> dict`` — HA's
  ``validate_config``: ``{"triggers": {"valid": bool, "error": str | None}, ...}``.
* ``await list_automation_configs(runtime)``, ``await get_automation_config(runtime, id)``,
  ``await save_automation_config(runtime, id, config) -> created``,
  ``await delete_automation_config(runtime, id) -> deleted`` — CRUD of ``automations.yaml``
  (HA's ``/api/config/automation/config/<id>``), comments of other entries kept, then reload.
* ``await get_script_config(runtime, object_id)``, ``await save_script_config(runtime,
  object_id, config) -> created``, ``await delete_script_config(runtime, object_id) ->
  deleted`` — the same for ``scripts.yaml`` (HA's ``/api/config/script/config/<object_id>``);
  ``get_config``/``save_config``/``delete_config(runtime, domain, ...)`` pick by domain.
* ``automation_errors(runtime) -> dict[str, str]`` — why automations failed to load.
* ``await list_blueprints(runtime, domain) -> {path: {"metadata": ...} | {"error": ...}}`` —
  HA's ``blueprint/list`` (the site's ``blueprints/<domain>/`` and the bundled ones).
* ``automation_entity_id(runtime, id) -> str | None``.

Errors: ``InvalidConfig`` (an ``EdgewiseError``) with a message naming the item and the reason.
Services (``automation.reload/turn_on/turn_off/toggle/trigger``, ``script.<id>``,
``script.turn_on/turn_off/toggle/reload``) are registered by the integrations themselves.
"""
