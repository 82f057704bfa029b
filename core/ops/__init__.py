"""Running Edgewise on a small computer for years: service, backups, diagnostics, loop health.

``edgewise install-service``, ``backup``, ``restore`` and ``doctor`` live here (``cli.py``
adds them to the ``edgewise`` command), with what ``edgewise run`` does for operations: tell
systemd it is ready and alive (``sdnotify.py``) and watch the event loop (``loop_health.py``).
"""
