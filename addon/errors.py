"""User errors and the one middleware that turns every failure into a JSON answer."""

from __future__ import annotations

import errno
import logging
import sqlite3

from aiohttp import web

from mww_trainer.errors import MwwError

_LOGGER = logging.getLogger(__name__)
_DAMAGED = "malformed"  # SQLite: "database disk image is malformed"


class UserError(Exception):
    """Something the user can fix: shown as {"error": message} with a 4xx status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> UserError:
    return UserError(400, message)


def not_found(what: str) -> UserError:
    return UserError(404, f"{what} not found")


def conflict(message: str) -> UserError:
    return UserError(409, message)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as exc:
        return error_response(exc.status, exc.message)
    except MwwError as exc:  # the library's user errors (config, audio) say what to fix
        return error_response(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return error_response(exc.status, exc.reason)
    except (OSError, sqlite3.DatabaseError) as exc:
        if _disk_full(exc):
            _LOGGER.error("%s %s: the disk is full (%s)", request.method, request.path, exc)
            return error_response(
                507,
                "the data folder's disk is full; nothing was changed: free some space, then "
                "try again",
            )
        if isinstance(exc, sqlite3.DatabaseError) and _DAMAGED in str(exc):
            _LOGGER.error("%s %s: the database is damaged (%s)", request.method, request.path, exc)
            return error_response(
                503,
                "the add-on's database is damaged (api/health shows what quick_check found); "
                "stop the add-on, move the database aside and restore a backup",
            )
        _LOGGER.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error; the add-on's log has the details")
    except Exception:
        _LOGGER.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error; the add-on's log has the details")


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return "disk is full" in str(exc)  # SQLite's SQLITE_FULL
