"""``edgewise user add|list|remove|passwd`` and ``edgewise token create|list|revoke``.

They edit ``<config>/.storage/auth`` directly; a running server notices the change within a
second (``AuthManager.reload_if_changed``). Passwords are read with a hidden prompt, or from
standard input with ``--password-stdin`` (for scripts); tokens are printed once and only their
hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.storage import storage_path

from .manager import (
    LONG_LIVED_DAYS,
    STORAGE_KEY,
    AuthError,
    check_password_policy,
    hash_password,
    read_auth_file,
    write_auth_file,
)
from .models import Role, TokenType


def add_auth_commands(
    sub: Any,  # argparse's _SubParsersAction is private
    add_common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the ``user`` and ``token`` commands to the ``edgewise`` parser."""
    user = sub.add_parser("user", help="manage the users who may log in")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--name", help="display name (default: the user name)")
    add.add_argument(
        "--role", choices=[r.value for r in Role], default=Role.ADMIN.value, help="default: admin"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user_sub.add_parser("list", help="list the users")
    remove = user_sub.add_parser("remove", help="remove a user and revoke its tokens")
    remove.add_argument("username")
    areas = user_sub.add_parser(
        "areas", help="limit a user to areas (area ids), or with --all lift the limit"
    )
    areas.add_argument("username")
    areas.add_argument("area_ids", nargs="*", metavar="AREA_ID")
    areas.add_argument("--all", action="store_true", help="every area (no limit)")
    passwd = user_sub.add_parser("passwd", help="change a user's password")
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    token = sub.add_parser("token", help="manage long-lived access tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="create a long-lived access token for a user")
    create.add_argument("username")
    create.add_argument("--name", required=True, help="what the token is for")
    create.add_argument("--days", type=float, default=LONG_LIVED_DAYS, help="lifetime in days")
    token_sub.add_parser("list", help="list tokens and login sessions")
    revoke = token_sub.add_parser("revoke", help="revoke a token or session by its id")
    revoke.add_argument("token_id")
    for parser in [*user_sub.choices.values(), *token_sub.choices.values()]:
        add_common(parser)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AuthError("The passwords differ")
    return first


def run_auth_command(args: argparse.Namespace, config_dir: Path) -> int:
    """Run a ``user`` or ``token`` command; return the exit code."""
    path = storage_path(config_dir, STORAGE_KEY)
    try:
        return _run(args, path)
    except AuthError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, path: Path) -> int:
    data = read_auth_file(path)
    command = f"{args.command} {args.action}"
    if command == "user list":
        for user in data.users.values():
            owner = " (owner)" if user.is_owner else ""
            areas = "" if user.areas is None else f"\tareas: {','.join(sorted(user.areas))}"
            print(f"{user.username}\t{user.role.value}{owner}\t{user.name}\t{user.id}{areas}")
        return 0
    if command == "token list":
        for grant in data.tokens.values():
            owner = data.users[grant.user_id].username
            kind = "long-lived" if grant.token_type is TokenType.LONG_LIVED else "session"
            label = grant.client_name or grant.client_id or ""
            print(f"{grant.id}\t{owner}\t{kind}\t{label}")
        return 0
    if command == "user add":
        password = _password(args.password_stdin)
        check_password_policy(args.username, password)
        user = data.add_user(
            args.username,
            hash_password(password),
            name=args.name,
            role=Role(args.role),
            is_owner=not data.users and Role(args.role) is Role.ADMIN,
        )
        write_auth_file(path, data)
        print(f"Added user {user.username} ({user.role.value})")
        return 0
    if command == "user remove":
        user = data.find_user(args.username)
        data.remove_user(user.id)
        write_auth_file(path, data)
        print(f"Removed user {user.username} and its tokens")
        return 0
    if command == "user areas":
        user = data.find_user(args.username)
        if args.all == bool(args.area_ids):
            raise AuthError("Name the areas the user is limited to, or give --all")
        user.areas = None if args.all else frozenset(args.area_ids)
        write_auth_file(path, data)
        shown = "every area" if user.areas is None else ", ".join(sorted(user.areas))
        print(f"{user.username} may see and act on: {shown}")
        return 0
    if command == "user passwd":
        user = data.find_user(args.username)
        password = _password(args.password_stdin)
        check_password_policy(user.username, password)
        user.password_hash = hash_password(password)
        write_auth_file(path, data)
        print(f"Changed the password of {user.username}")
        return 0
    if command == "token create":
        user = data.find_user(args.username)
        _, token = data.add_grant(
            user, TokenType.LONG_LIVED, client_name=args.name, lifespan_days=args.days
        )
        write_auth_file(path, data)
        # The token alone on stdout, so scripts can capture it; it is not shown again.
        print(token)
        return 0
    if command == "token revoke":
        grant = data.revoke(args.token_id)
        write_auth_file(path, data)
        print(f"Revoked token {grant.id}", file=sys.stderr)
        return 0
    raise AuthError(f"Unknown command {command}")
