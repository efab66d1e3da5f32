"""ASGI middleware, one concern a module; `stack.py` orders them."""
