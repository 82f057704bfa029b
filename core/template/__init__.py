"""Templates: Jinja2 in a sandbox, with the helpers Home Assistant users know.

::

    from core.template import Template, TemplateError, track_template

    template = Template("{{ states('sensor.t') | float(0) > 21 }}", runtime, name="heating")
    template.render()                       # True / False, parsed like Home Assistant
    result, info = template.render_with_info()
    info.entities                           # frozenset({'sensor.t'})

In an integration's YAML, take templates with ``validators.template`` (syntax errors become
configuration errors with file, line and key), give them the runtime at setup, and render with
Home Assistant's variables::

    SCHEMA = vol.Schema({vol.Optional("value_template"): validators.template})
    template.runtime = runtime              # validators build templates without one
    template.name = "sensor.boiler value_template"   # how errors name it
    value = template.render({"value": payload, "value_json": parsed})

To follow the states a template reads, ``track_template(runtime, template, variables,
on_result)`` calls ``on_result`` with the first result, then with each changed result (or the
``TemplateError`` of a failed render); it returns the function that stops tracking.

Every render has a time budget (``time_budget=``, ``DEFAULT_RENDER_TIME`` unless given; the
API gives its renders 50 ms): the sandbox checks it at every call, attribute, operator, filter
and loop iteration and stops the render with a ``TemplateTimeoutError``; regular expressions get
the remaining budget as their timeout. Whatever can build a large value (``*``, padding, widths,
``batch``, ``zip``...) is measured before it is built, and all a render builds is counted against
``MAX_RENDER_ALLOCATION``; no value weighs more than ``MAX_VALUE_WEIGHT`` and no text is longer
than ``MAX_TEMPLATE_OUTPUT``.

Modules: ``template`` (the Template class, result parsing, ``render_complex``), ``sandbox``
(the environment and its limits), ``limits`` and ``guarded`` (the measures, and the filters that
use them), ``environment`` (the helpers as globals, filters and tests), ``helpers``,
``time_helpers`` and ``states`` (the functions templates call), ``render_info`` (what a render
read, and its budgets), ``tracking`` (``track_template``).
"""

from __future__ import annotations

from core.errors import TemplateError

from .render_info import (
    DEFAULT_RENDER_TIME,
    MAX_LOOP_ITERATIONS,
    MAX_RENDER_ALLOCATION,
    MAX_TEMPLATE_OUTPUT,
    MAX_VALUE_WEIGHT,
    RenderInfo,
)
from .template import (
    Template,
    TemplateRenderError,
    TemplateTimeoutError,
    attach,
    is_template_string,
    parse_result,
    render_complex,
)
from .tracking import (
    ALL_STATES_RATE_LIMIT,
    DOMAIN_STATES_RATE_LIMIT,
    TIME_RERENDER_INTERVAL,
    RenderPacer,
    ResultCallback,
    TemplateTracker,
    track_template,
)

__all__ = [
    "ALL_STATES_RATE_LIMIT",
    "DEFAULT_RENDER_TIME",
    "DOMAIN_STATES_RATE_LIMIT",
    "MAX_LOOP_ITERATIONS",
    "MAX_RENDER_ALLOCATION",
    "MAX_TEMPLATE_OUTPUT",
    "MAX_VALUE_WEIGHT",
    "TIME_RERENDER_INTERVAL",
    "RenderInfo",
    "RenderPacer",
    "ResultCallback",
    "Template",
    "TemplateError",
    "TemplateRenderError",
    "TemplateTimeoutError",
    "TemplateTracker",
    "attach",
    "is_template_string",
    "parse_result",
    "render_complex",
    "track_template",
]
