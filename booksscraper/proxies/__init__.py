"""Proxies, apart from the middleware that rotates them (``middlewares/proxies.py``).

- ``sources``: the proxy list from a file, a setting or the environment, validated.
- ``pool``: good, dead and unchecked proxies on scrapy-rotating-proxies' ``Proxies``.
"""
