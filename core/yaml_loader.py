"""Load YAML configuration the way Home Assistant does, remembering where each value came from.

Supported tags: ``!include``, ``!include_dir_list``, ``!include_dir_named``,
``!include_dir_merge_list``, ``!include_dir_merge_named``, ``!secret``, ``!env_var`` and, for
blueprints, ``!input NAME`` (an :class:`Input` placeholder that the blueprint is filled with).
Mappings, sequences and strings come back as :class:`NodeDict`, :class:`NodeList` and
:class:`NodeStr`, which carry a :class:`Source` (file and 1-based line) so that validation errors
can point at the line a user has to fix. Every file an include or a secret reaches must resolve
inside the configuration directory.

Hostile documents are refused before they are built (``core.limits``): aliases may add at most
``MAX_YAML_ALIAS_NODES`` nodes as they expand (no "billion laughs"), mappings and lists nest at
most ``MAX_DEPTH`` levels, and include chains are at most ``MAX_INCLUDE_DEPTH`` files long.
YAML a client sends (the automation editor's text) goes through :func:`load_client_yaml`,
which also refuses every tag that reads the server's environment or files.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from core.errors import ConfigError
from core.limits import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_INCLUDE_DEPTH,
    MAX_YAML_ALIAS_NODES,
    YAML_PARSE_TIMEOUT,
)

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - only when PyYAML was built without libyaml
    # The pure-Python loader is a different class of the same shape, hence the ignore.
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_LOGGER = logging.getLogger(__name__)

SECRETS_FILE = "secrets.yaml"
"""The file name ``!secret`` looks in, in the including file's directory and its parents."""

_YAML_SUFFIX = ".yaml"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value was written: a path relative to the config directory and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}"


class NodeStr(str):
    """A string loaded from YAML that remembers where it was written."""

    source: Source | None
    secret: bool

    def __new__(cls, value: str, source: Source | None = None, *, secret: bool = False) -> NodeStr:
        """Create the string with its source and whether it came from ``!secret``."""
        self = super().__new__(cls, value)
        self.source = source
        self.secret = secret
        return self


class NodeDict(dict[object, object]):
    """A mapping loaded from YAML that remembers where it and each of its keys were written."""

    source: Source | None = None
    secret: bool = False

    @property
    def key_sources(self) -> dict[object, Source]:
        """The line of each key, as written (the mapping's own keys only)."""
        # Created on first use so that dict's own constructors (copy, pickling) need no override.
        sources: dict[object, Source] | None = self.__dict__.get("_key_sources")
        if sources is None:
            sources = self.__dict__["_key_sources"] = {}
        return sources


class NodeList(list[object]):
    """A sequence loaded from YAML that remembers where it and each of its items were written."""

    source: Source | None = None
    secret: bool = False

    @property
    def item_sources(self) -> list[Source | None]:
        """The line of each item, parallel to the list as loaded."""
        sources: list[Source | None] | None = self.__dict__.get("_item_sources")
        if sources is None:
            sources = self.__dict__["_item_sources"] = []
        return sources


class _SecretInt(int):
    """An integer that came from ``!secret``; it prints as itself but reports as secret."""

    secret = True
    source: Source | None = None


class _SecretFloat(float):
    """A float that came from ``!secret``; it prints as itself but reports as secret."""

    secret = True
    source: Source | None = None


def source_of(obj: object) -> Source | None:
    """Return where ``obj`` was written, if it was loaded by this module."""
    source = getattr(obj, "source", None)
    return source if isinstance(source, Source) else None


def source_of_key(mapping: object, key: object) -> Source | None:
    """Return the line of ``key`` itself inside ``mapping``, if loaded by this module."""
    if isinstance(mapping, NodeDict):
        return mapping.key_sources.get(key)
    return None


def source_of_item(sequence: object, index: int) -> Source | None:
    """Return the line of item ``index`` of ``sequence``, if loaded by this module."""
    if isinstance(sequence, NodeList) and 0 <= index < len(sequence.item_sources):
        return sequence.item_sources[index]
    return None


def is_secret(obj: object) -> bool:
    """Tell whether ``obj`` came from ``!secret`` (or ``!env_var``) and must never be shown."""
    return getattr(obj, "secret", False) is True


class Secrets:
    """The ``secrets.yaml`` files of one configuration directory, each loaded once."""

    def __init__(self, config_dir: Path) -> None:
        """Look for secrets under ``config_dir`` only."""
        self._config_dir = config_dir.resolve()
        self._cache: dict[Path, dict[object, object]] = {}

    def get(self, requester: Path, name: str) -> object:
        """Return secret ``name`` for the file ``requester``.

        Looks in ``secrets.yaml`` next to ``requester``, then in each parent directory up to and
        including the configuration directory, as Home Assistant does.

        Raises:
            ConfigError: the secret is not defined, or a ``secrets.yaml`` is unreadable or
                resolves outside the configuration directory.
        """
        searched: list[str] = []
        directory = requester.resolve().parent
        while directory.is_relative_to(self._config_dir):
            secrets = self._load(directory)
            searched.append(_display(directory / SECRETS_FILE, self._config_dir))
            if name in secrets:
                # The name is not sensitive, the value is: only the name is ever logged.
                _LOGGER.debug("Secret %s retrieved from %s", name, searched[-1])
                return secrets[name]
            if directory == self._config_dir:
                break
            directory = directory.parent
        where = ", ".join(searched) if searched else "no secrets.yaml inside the configuration dir"
        raise ConfigError(f"secret '{name}' is not defined (looked in {where})")

    def _load(self, directory: Path) -> dict[object, object]:
        """Load (once) the secrets file of ``directory``; a missing file has no secrets."""
        cached = self._cache.get(directory)
        if cached is not None:
            return cached
        path = directory / SECRETS_FILE
        secrets: dict[object, object] = {}
        if path.exists():
            resolved = path.resolve()
            if not resolved.is_relative_to(self._config_dir):
                raise ConfigError(
                    f"'{path}' resolves to '{resolved}', outside the configuration directory",
                    path=_display(path, self._config_dir),
                )
            context = _LoadContext(config_dir=self._config_dir, secrets=None, stack=())
            loaded = _load_file(resolved, context)
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigError(
                    "secrets.yaml must be a mapping of names to values",
                    path=_display(resolved, self._config_dir),
                    line=1,
                )
            secrets = dict(loaded or {})
        self._cache[directory] = secrets
        return secrets


def load_yaml(path: Path, *, config_dir: Path, secrets: Secrets | None = None) -> object:
    """Load the YAML file ``path`` with the Home Assistant tags; an empty file loads as ``{}``.

    Args:
        path: the file to load.
        config_dir: the configuration directory; includes and secrets may not leave it.
        secrets: where ``!secret`` looks; by default the ``secrets.yaml`` files of ``config_dir``.

    Raises:
        ConfigError: the file or a file it includes is missing or malformed, a secret or an
            environment variable is missing, includes form a cycle, or an include leaves
            ``config_dir``. The error carries the file and line.
    """
    config_dir = config_dir.resolve()
    context = _LoadContext(
        config_dir=config_dir,
        secrets=secrets if secrets is not None else Secrets(config_dir),
        stack=(),
    )
    resolved = path.resolve()
    if not resolved.is_file():
        raise ConfigError("file not found", path=_display(resolved, config_dir))
    loaded = _load_file(resolved, context)
    return _empty_mapping(resolved, config_dir) if loaded is None else loaded


def load_client_yaml(text: str, name: str) -> object:
    """Load YAML text a client sent (the automation editor's), which may not touch the server.

    The tags that read the server's environment or files (``!env_var``, ``!secret``,
    ``!include`` and the ``!include_dir_*`` family) are refused with an error at their line,
    as are aliases expanding past ``core.limits.MAX_YAML_ALIAS_NODES``, nesting past
    ``core.limits.MAX_DEPTH`` and text longer than ``core.limits.MAX_BYTES``. Values keep
    their lines (``name``, line N). Blocking: see :func:`load_client_yaml_async`.

    Raises:
        ConfigError: the text is refused or is not valid YAML; it names ``name`` and the line.
    """
    if len(text) > MAX_BYTES or len(text.encode()) > MAX_BYTES:
        raise ConfigError(f"longer than {MAX_BYTES:,} bytes", path=name)
    context = _LoadContext(config_dir=Path(name).resolve().parent, secrets=None, stack=())
    loader = _ClientLoader(text, Path(name), context)
    loader.display = name
    return _parse(loader, name)


async def load_client_yaml_async(text: str, name: str) -> object:
    """:func:`load_client_yaml` in the executor, bounded by ``core.limits.YAML_PARSE_TIMEOUT``.

    Raises:
        ConfigError: as :func:`load_client_yaml`, or the text took too long to parse.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(YAML_PARSE_TIMEOUT):
            return await loop.run_in_executor(None, load_client_yaml, text, name)
    except TimeoutError:
        raise ConfigError(
            f"took longer than {YAML_PARSE_TIMEOUT:g} s to read; simplify it", path=name
        ) from None


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing text with line breaks as a literal block (``|``)."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        # The emitter falls back to a quoted scalar where a block cannot hold the text exactly
        # (a line ending in a space, a control character).
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_str(data)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: object) -> str:
    """Plain ``data`` (dicts, lists, text, numbers) as YAML for a person to read and edit.

    Keys keep their order, and text with line breaks (a multi-line template, a message) is a
    literal block, as Home Assistant's editor shows it, instead of one escaped line:

        value_template: |-
          {{ is_state('schedule.office_hours', 'on')
             and not is_state('input_boolean.vacation_mode', 'on') }}
    """
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True, slots=True)
class _LoadContext:
    """What every file of one load shares."""

    config_dir: Path
    secrets: Secrets | None
    stack: tuple[Path, ...]
    """The files being loaded, outermost first, to detect include cycles."""


def _display(path: Path, config_dir: Path) -> str:
    """Return ``path`` relative to ``config_dir`` when inside it, as users read it."""
    try:
        return path.relative_to(config_dir).as_posix()
    except ValueError:
        return str(path)


def _empty_mapping(path: Path, config_dir: Path) -> NodeDict:
    """Return what an empty file loads as (Home Assistant treats it as an empty mapping)."""
    empty = NodeDict()
    empty.source = Source(_display(path, config_dir), 1)
    return empty


def _load_file(path: Path, context: _LoadContext) -> object:
    """Parse one resolved file; ``None`` when it is empty."""
    display = _display(path, context.config_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"file is not valid UTF-8: {exc.reason}", path=display) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=display) from exc
    loader = _Loader(text, path, replace(context, stack=(*context.stack, path)))
    return _parse(loader, display)


def _parse(loader: _Loader, display: str) -> object:
    """Run ``loader`` over its text; every failure becomes a ``ConfigError`` at a line."""
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ConfigError(
            f"nested deeper than {MAX_DEPTH} levels of mappings and lists", path=display
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context_mark is not None:
            message = f"{message} ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError(
            message, path=display, line=None if mark is None else mark.line + 1
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=display) from exc
    finally:
        loader.dispose()


class _Loader(_BaseLoader):
    """A safe loader bound to one file of one load."""

    def __init__(self, text: str, path: Path, context: _LoadContext) -> None:
        super().__init__(text)
        self.path = path
        self.context = context
        self.display = _display(path, context.config_dir)

    def get_single_data(self) -> object:
        """Compose the document, check its size as aliases expand it, then construct it."""
        node = self.get_single_node()
        if node is None:
            return None
        _check_expansion(self, node)
        return self.construct_document(node)

    def source(self, node: yaml.Node) -> Source:
        """Return where ``node`` starts."""
        return Source(self.display, node.start_mark.line + 1)

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        """Build an error located at ``node``."""
        return ConfigError(message, path=self.display, line=node.start_mark.line + 1)

    def scalar_argument(self, node: yaml.Node, tag: str) -> str:
        """Return the scalar argument of a tag such as ``!include FILE``."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{tag} expects a single value after the tag")
        value = str(self.construct_scalar(node)).strip()
        if not value:
            raise self.error(node, f"{tag} expects a value after the tag")
        return value

    def resolve_inside(self, node: yaml.Node, tag: str, name: str) -> Path:
        """Resolve ``name`` relative to this file and refuse anything outside the config dir."""
        resolved = (self.path.parent / name).resolve()
        if not resolved.is_relative_to(self.context.config_dir):
            raise self.error(
                node,
                f"{tag} '{name}' resolves to '{resolved}', outside the configuration directory",
            )
        return resolved

    def load_included(self, node: yaml.Node, target: Path) -> object:
        """Load an included file, refusing include cycles."""
        if target in self.context.stack:
            chain = [*self.context.stack[self.context.stack.index(target) :], target]
            names = " -> ".join(_display(p, self.context.config_dir) for p in chain)
            raise self.error(node, f"include cycle: {names}")
        if len(self.context.stack) >= MAX_INCLUDE_DEPTH:
            first = _display(self.context.stack[0], self.context.config_dir)
            raise self.error(
                node,
                f"includes nested deeper than {MAX_INCLUDE_DEPTH} files "
                f"(from {first}); include the files from fewer levels",
            )
        return _load_file(target, self.context)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_expansion(loader: _Loader, root: yaml.Node) -> None:
    """Refuse a document whose aliases expand past the budget, that nests too deeply, or
    whose aliases refer to themselves.

    An alias is the very node its anchor named, so the composed document is a graph; its
    size as constructed (and written back out as JSON or YAML) is that of the tree it
    unfolds to. That size is counted here without unfolding it (each node once, children's
    sizes summed), in linear time whatever the document claims.
    """
    # Per node: the number of nodes and the number of levels of the tree it unfolds to.
    expanded: dict[int, tuple[int, int]] = {}
    on_path: set[int] = set()
    unique = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = [expanded[id(child)] for child in _children(node)]
            expanded[key] = (
                1 + sum(size for size, _ in children),
                1 + max((height for _, height in children), default=0),
            )
            continue
        if key in expanded:
            continue
        on_path.add(key)
        unique += 1
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise loader.error(child, "an alias refers to a node that contains it")
            if id(child) not in expanded:
                stack.append((child, False))
    size, height = expanded[id(root)]
    # Scalars are one level: a mapping of mappings of scalars is three.
    if height - 1 > MAX_DEPTH:
        raise loader.error(root, f"nested deeper than {MAX_DEPTH} levels of mappings and lists")
    if size - unique > MAX_YAML_ALIAS_NODES:
        raise loader.error(
            root,
            f"aliases (*name) would expand this document by {size - unique:,} values, more "
            f"than the {MAX_YAML_ALIAS_NODES:,} allowed",
        )


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> NodeStr:
    """Build a string that remembers its line."""
    return NodeStr(str(loader.construct_scalar(node)), loader.source(node))


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> NodeList:
    """Build a list that remembers its line and the line of each item."""
    result = NodeList()
    result.source = loader.source(node)
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_sources.append(loader.source(child))
    return result


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> NodeDict:
    """Build a mapping that remembers its line and each key's line; a duplicate key warns."""
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    # flatten_mapping puts pairs pulled in by `<<: *anchor` in front of the explicit ones, and
    # overriding those is the point of a merge key, so only explicit duplicates are warned about.
    loader.flatten_mapping(node)
    first_explicit = len(node.value) - explicit
    result = NodeDict()
    result.source = loader.source(node)
    explicit_lines: dict[object, int] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise loader.error(key_node, f"invalid key: {key!r} cannot be a mapping key") from None
        key_source = loader.source(key_node)
        if index >= first_explicit:
            if key in explicit_lines:
                _LOGGER.warning(
                    "YAML file %s contains duplicate key '%s' at lines %d and %d; "
                    "the last one is used",
                    loader.display,
                    key,
                    explicit_lines[key],
                    key_source.line,
                )
            explicit_lines[key] = key_source.line
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_sources[key] = key_source
    return result


def _include(loader: _Loader, node: yaml.Node) -> object:
    """``!include FILE``: the content of a file, relative to the including file."""
    name = loader.scalar_argument(node, "!include")
    target = loader.resolve_inside(node, "!include", name)
    if not target.is_file():
        raise loader.error(node, f"!include: file '{name}' not found")
    loaded = loader.load_included(node, target)
    return _empty_mapping(target, loader.context.config_dir) if loaded is None else loaded


def _dir_files(loader: _Loader, node: yaml.Node, tag: str) -> Iterator[Path]:
    """Yield the ``*.yaml`` files under a directory, recursively and sorted, skipping dot-names."""
    name = loader.scalar_argument(node, tag)
    directory = loader.resolve_inside(node, tag, name)
    if not directory.is_dir():
        raise loader.error(node, f"{tag}: directory '{name}' not found")
    for root, dirs, files in os.walk(directory, topdown=True):
        # Pruning in place keeps os.walk out of hidden directories and walks the rest in order.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file_name in sorted(files):
            if (
                file_name.startswith(".")
                or not file_name.endswith(_YAML_SUFFIX)
                or file_name == SECRETS_FILE
            ):
                continue
            # A symlinked file may point anywhere; it is held to the same rule as an include.
            yield loader.resolve_inside(node, tag, str(Path(root, file_name)))


def _include_dir_list(loader: _Loader, node: yaml.Node) -> NodeList:
    """``!include_dir_list DIR``: a list with one item per file (empty files skipped)."""
    result = NodeList()
    result.source = loader.source(node)
    for path in _dir_files(loader, node, "!include_dir_list"):
        loaded = loader.load_included(node, path)
        if loaded is not None:
            result.append(loaded)
            result.item_sources.append(source_of(loaded) or Source(_rel(loader, path), 1))
    return result


def _include_dir_named(loader: _Loader, node: yaml.Node) -> NodeDict:
    """``!include_dir_named DIR``: a mapping of file name (without ``.yaml``) to content."""
    result = NodeDict()
    result.source = loader.source(node)
    for path in _dir_files(loader, node, "!include_dir_named"):
        loaded = loader.load_included(node, path)
        key = NodeStr(path.stem, Source(_rel(loader, path), 1))
        if key in result:
            _LOGGER.warning(
                "%s: !include_dir_named finds '%s' twice; %s is used",
                loader.source(node),
                path.stem,
                _rel(loader, path),
            )
        result[key] = _empty_mapping(path, loader.context.config_dir) if loaded is None else loaded
        result.key_sources[key] = Source(_rel(loader, path), 1)
    return result


def _include_dir_merge_list(loader: _Loader, node: yaml.Node) -> NodeList:
    """``!include_dir_merge_list DIR``: the lists of every file, concatenated."""
    result = NodeList()
    result.source = loader.source(node)
    for path in _dir_files(loader, node, "!include_dir_merge_list"):
        loaded = loader.load_included(node, path)
        if loaded is None:
            continue
        if not isinstance(loaded, list):
            # Home Assistant skips such files silently; a warning saves a confused user an hour.
            _LOGGER.warning(
                "%s: !include_dir_merge_list skips %s, which is not a list",
                loader.source(node),
                _rel(loader, path),
            )
            continue
        for index, item in enumerate(loaded):
            result.append(item)
            result.item_sources.append(source_of_item(loaded, index))
    return result


def _include_dir_merge_named(loader: _Loader, node: yaml.Node) -> NodeDict:
    """``!include_dir_merge_named DIR``: the mappings of every file, merged (later files win)."""
    result = NodeDict()
    result.source = loader.source(node)
    for path in _dir_files(loader, node, "!include_dir_merge_named"):
        loaded = loader.load_included(node, path)
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            _LOGGER.warning(
                "%s: !include_dir_merge_named skips %s, which is not a mapping",
                loader.source(node),
                _rel(loader, path),
            )
            continue
        for key, value in loaded.items():
            if key in result:
                _LOGGER.warning(
                    "%s: !include_dir_merge_named finds key '%s' again in %s; the last one is used",
                    loader.source(node),
                    key,
                    _rel(loader, path),
                )
            result[key] = value
            key_source = source_of_key(loaded, key)
            if key_source is not None:
                result.key_sources[key] = key_source
    return result


def _secret(loader: _Loader, node: yaml.Node) -> object:
    """``!secret NAME``: a value from ``secrets.yaml``, marked so it is never shown."""
    name = loader.scalar_argument(node, "!secret")
    if loader.context.secrets is None:
        raise loader.error(node, f"!secret '{name}' cannot be used in {SECRETS_FILE}")
    try:
        value = loader.context.secrets.get(loader.path, name)
    except ConfigError as exc:
        if exc.path is not None:
            raise
        raise loader.error(node, exc.message) from None
    return _mark_secret(value, loader.source(node))


def _env_var(loader: _Loader, node: yaml.Node) -> NodeStr:
    """``!env_var NAME [DEFAULT]``: an environment variable, or the default when it is unset."""
    name, *default = loader.scalar_argument(node, "!env_var").split()
    value = os.environ.get(name)
    if value is None:
        if not default:
            raise loader.error(
                node, f"!env_var: environment variable '{name}' is not set and has no default"
            )
        value = " ".join(default)
    # Environment variables are how containers hand over credentials, so they are hidden too.
    return NodeStr(value, loader.source(node), secret=True)


class Input:
    """``!input NAME`` in a blueprint: a placeholder for the value the user gives for ``NAME``."""

    __slots__ = ("name", "source")

    def __init__(self, name: str, source: Source | None = None) -> None:
        self.name = name
        self.source = source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Input) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("!input", self.name))

    def __repr__(self) -> str:
        return f"!input {self.name}"


def _input(loader: _Loader, node: yaml.Node) -> Input:
    """``!input NAME``: a blueprint input placeholder."""
    return Input(loader.scalar_argument(node, "!input"), loader.source(node))


def _rel(loader: _Loader, path: Path) -> str:
    """Return ``path`` as users read it."""
    return _display(path, loader.context.config_dir)


def _mark_secret(value: object, source: Source) -> object:
    """Return ``value`` marked as coming from ``!secret``, located at the tag that asked for it."""
    if isinstance(value, bool) or value is None:
        # bool cannot be subclassed; a secret flag is not worth hiding.
        return value
    if isinstance(value, str):
        return NodeStr(value, source, secret=True)
    if isinstance(value, int):
        secret_int = _SecretInt(value)
        secret_int.source = source
        return secret_int
    if isinstance(value, float):
        secret_float = _SecretFloat(value)
        secret_float.source = source
        return secret_float
    if isinstance(value, dict):
        mapping = NodeDict(value)
        mapping.source, mapping.secret = source, True
        return mapping
    if isinstance(value, list):
        sequence = NodeList(value)
        sequence.source, sequence.secret = source, True
        return sequence
    return value


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("!include", _include)
_Loader.add_constructor("!include_dir_list", _include_dir_list)
_Loader.add_constructor("!include_dir_named", _include_dir_named)
_Loader.add_constructor("!include_dir_merge_list", _include_dir_merge_list)
_Loader.add_constructor("!include_dir_merge_named", _include_dir_merge_named)
_Loader.add_constructor("!secret", _secret)
_Loader.add_constructor("!env_var", _env_var)
_Loader.add_constructor("!input", _input)


class _ClientLoader(_Loader):
    """A loader for YAML a client sent: no tag may read the server's environment or files."""


#: The tags refused in a client's YAML, and what each would have read.
_CLIENT_REFUSED_TAGS = {
    "!env_var": "the server's environment variables",
    "!secret": "the server's secrets.yaml",
    "!include": "files on the server",
    "!include_dir_list": "files on the server",
    "!include_dir_named": "files on the server",
    "!include_dir_merge_list": "files on the server",
    "!include_dir_merge_named": "files on the server",
}


def _refused_tag(loader: _Loader, node: yaml.Node) -> object:
    """Refuse a tag that would read the server's environment or files."""
    reads = _CLIENT_REFUSED_TAGS[node.tag]
    raise loader.error(
        node,
        f"{node.tag} is not allowed in YAML sent to the server: it would read {reads}. "
        "Write the value itself, or put the tag in the configuration files",
    )


for _tag in _CLIENT_REFUSED_TAGS:
    _ClientLoader.add_constructor(_tag, _refused_tag)
