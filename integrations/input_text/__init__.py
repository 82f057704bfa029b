"""The ``input_text`` helper: a short text users and automations set, as in Home Assistant.

Example ``configuration.yaml`` entry::

    input_text:
      welcome_message:
        name: Welcome message
        min: 0
        max: 60
        pattern: "[A-Za-z ,.!]*"
        mode: text

Services: ``input_text.set_value`` (refused when its length is outside ``min``..``max`` or it
does not match the whole ``pattern``) and ``reload``. Without ``initial`` the last text is
restored after a restart when it still fits.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputText, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputText)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input text",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_text/",
)
