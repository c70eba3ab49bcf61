"""Typed application state shared by the node's routes."""

from aiohttp import web

from federation.verifier import Verifier
from node.config import Config
from protocol.keys import NodeKey
from storage.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
NODE_KEY = web.AppKey("node_key", NodeKey)
VERIFIER = web.AppKey("verifier", Verifier)
