"""The public report form at /report (being written)."""

from aiohttp import web

routes = web.RouteTableDef()
