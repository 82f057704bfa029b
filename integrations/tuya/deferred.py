"""tinytuya, lighter: its cloud client's HTTP stack loads on first use, its AES from PyCryptodomex.

``tinytuya/__init__`` imports ``tinytuya.Cloud``, which runs ``import requests`` at module level
although only the Tuya cloud API calls use it; this integration talks to devices on the LAN and
never calls the cloud. ``defer_cloud_imports`` puts a stand-in module for each of
``CLOUD_ONLY_MODULES`` in ``sys.modules`` before tinytuya is imported, so that its
``import requests`` binds the stand-in; the first attribute read from the stand-in imports the
real module (which then replaces the stand-in in ``sys.modules``) and answers from it. Anything
else that imports ``requests`` gets the same stand-in and sees no difference but when the cost is
paid.

Why not ``importlib.util.LazyLoader``: on Python 3.11 an ``import`` statement reads the module's
``__spec__`` when it finds it in ``sys.modules``, and a lazily loaded module loads on any
attribute read, so tinytuya's own ``import requests`` would load it at once. The stand-in here
answers ``__spec__`` (the real module's spec) from its own namespace.

The AES backend (``import_tinytuya``): tinytuya's ``crypto_helper`` takes the first of
cryptography, PyCryptodomex, PyCrypto and pyaes that imports. cryptography's Rust module adds
about 7 MiB resident to the process, PyCryptodomex's AES about 2, and both do ECB (protocol
3.1-3.4) and GCM (3.5). PyCryptodomex is slower per message (measured here: ECB about 2.4 times,
GCM about 10 times: some 0.2 ms a 3.5 frame), which a plug's few messages a second do not feel.
So while tinytuya picks its backend, ``cryptography`` is hidden (a ``None`` in ``sys.modules``
makes its import fail) and then put back: everything else imports cryptography as usual. ``cffi``
is hidden likewise, so PyCryptodomex binds its C code with ctypes rather than cffi, whose
C-declaration parser (pycparser) would stay resident (about 1 MiB) for no speed gained; and
``colorama``, which tinytuya's core imports only to colour a Windows terminal.

``prepare_tinytuya`` does both, and so imports tinytuya. Called by this integration's setup and
by the simulator's Tuya server before they use tinytuya; a process that imported tinytuya (or
cryptography) before is left as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

from .const import CIPHER_MODULE, CLOUD_ONLY_MODULES, TINYTUYA_HIDDEN_MODULES

_LOAD_LOCK = threading.Lock()


class DeferredModule(ModuleType):
    """Stands in ``sys.modules`` for a module until an attribute of it is first read."""

    def __getattr__(self, attr: str) -> Any:
        """Import the real module (once) and answer from it."""
        return getattr(self._real_module(), attr)

    def _real_module(self) -> ModuleType:
        name = self.__name__
        with _LOAD_LOCK:
            if sys.modules.get(name) is self:
                # Out of the way, so the import system runs the module itself.
                del sys.modules[name]
        return importlib.import_module(name)


def defer_cloud_imports() -> None:
    """Put a ``DeferredModule`` for each of ``CLOUD_ONLY_MODULES`` not imported yet."""
    if "tinytuya" in sys.modules:
        return  # Imported already, with whatever its modules were.
    for name in CLOUD_ONLY_MODULES:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue  # Not installed: tinytuya's own import warns that cloud calls won't work.
        module = DeferredModule(name)
        module.__spec__ = spec
        module.__loader__ = spec.loader
        module.__package__ = spec.parent
        sys.modules[name] = module


def import_tinytuya() -> None:
    """Import tinytuya with PyCryptodomex (through ctypes) as its AES backend, without colorama.

    See the module's documentation for why.

    Nothing changes when PyCryptodomex is not installed, when tinytuya chose already, or when
    cryptography is imported already (its memory is spent; tinytuya may as well use it). A
    module hidden is one not imported yet, so nothing that holds it is affected. Call it on the
    thread that imports tinytuya, before anything else imports cryptography.
    """
    if CIPHER_MODULE in sys.modules or "cryptography" in sys.modules:
        return
    if importlib.util.find_spec("Cryptodome") is None:
        return
    hidden = [name for name in TINYTUYA_HIDDEN_MODULES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment] # makes its import fail
    try:
        importlib.import_module(CIPHER_MODULE)
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def prepare_tinytuya() -> None:
    """Import tinytuya, lighter: its cloud modules deferred, its AES from PyCryptodomex."""
    defer_cloud_imports()
    import_tinytuya()
