"""Constants of the ``nilm`` integration."""

from __future__ import annotations

from pathlib import Path

DOMAIN = "nilm"
NAME = "Non-intrusive load monitoring"

#: The models shipped in the package (an ONNX file and a ``.json`` manifest each).
BUNDLED_MODELS = Path(__file__).resolve().parent / "models"
#: The model used when the configuration names none.
DEFAULT_MODEL = "edgewise-nilm-home"

#: Largest model file accepted (bytes), on disk or uploaded.
MAX_MODEL_BYTES = 20 * 1024 * 1024
#: Largest manifest accepted (bytes).
MAX_MANIFEST_BYTES = 256 * 1024
#: Largest ``POST /api/nilm/infer`` body (bytes).
MAX_INFER_BODY = 512 * 1024
#: Most windows in one ``POST /api/nilm/infer``.
MAX_INFER_WINDOWS = 32
#: ``POST /api/nilm/infer`` calls a user may make per minute.
INFER_RATE_PER_MINUTE = 60
#: Idempotency keys remembered (oldest forgotten first).
MAX_IDEMPOTENCY_KEYS = 10_000
#: Longest idempotency key accepted.
MAX_IDEMPOTENCY_KEY_LEN = 128

#: How long a reading holds (s): a state stays true until it changes (the state machine writes
#: no event for an unchanged value), so a reading holds until the next one; going unavailable
#: or being removed ends it.
MAX_HOLD_S = float("inf")
#: How long the last recorded reading holds across a restart (s): the time the runtime was down
#: is not known, so a longer stop leaves a gap in the window rather than inventing readings.
MAX_RESUME_GAP_S = 120.0
#: The notification id of a refused model (one per model id).
NOTIFICATION_PREFIX = "nilm_model_"
#: The notification id of an inference process that keeps dying.
WORKER_NOTIFICATION = "nilm_inference"
#: The notification id of a meter whose window is still being filled at start (one per meter).
WINDOW_NOTIFICATION_PREFIX = "nilm_window_"
