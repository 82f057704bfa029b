"""The built-in ``nilm`` integration: appliance-level power and energy from one meter.

Non-intrusive load monitoring: a model (ONNX, run by onnxruntime) reads a window of a meter's
power and answers, per appliance, its power and whether it runs. Per configured meter and per
appliance of its model there are three sensors: power (W), running (on/off) and energy (kWh,
``total_increasing``, carried over restarts), each with a ``confidence`` attribute (see
``live.py``). The estimates lag the meter (by 30 min with the shipped model): power and running
say the moment they are for (``predicted_for``), which the panel shows by their state. An
appliance's sensors belong to one device placed in the appliance's area (``areas:``, else the
meter's), and after a restart the model's window is refilled from the recorder, so they resume
at once.

Models come from the registry (``registry.py``): the one shipped in the package and those in
the configuration's ``models_dir``; each is verified against its manifest before it loads, and
a refused model is a persistent notification naming the reason. ``api.py`` serves the models,
inference with persisted predictions, and the admin upload and reload.

The models load and run in a separate inference process (``worker.py``, supervised by
``core.isolated``): numpy and onnxruntime are imported there and never in the runtime process.
If that process keeps dying, a persistent notification says so until it runs again.

The integration itself (its hooks) is ``integration.py``, the module the
``edgewise.integrations`` entry point names: this package module imports nothing, so the
inference process, which imports ``worker.py`` and ``model.py`` from this package, does not
import the runtime's kernel with them.
"""
