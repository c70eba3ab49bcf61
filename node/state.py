"""Typed application state shared by the node's routes."""

from aiohttp import web

from federation.runtime import Federation
from federation.tasks import TaskOwner
from federation.verifier import Verifier
from node.config import Config
from protocol.keys import NodeKey
from storage.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
NODE_KEY = web.AppKey("node_key", NodeKey)
VERIFIER = web.AppKey("verifier", Verifier)
FEDERATION = web.AppKey("federation", Federation)
# Every background task of the node; stopped first at cleanup.
TASKS = web.AppKey("tasks", TaskOwner)
