"""HTML of the site, page for page, as precompiled string templates (fast: no template engine).

Whitespace and markup follow the saved real pages; ``prefix`` is the relative path back to the
site root, which is how the real site's links differ by page depth.

- ``frame``: what every page shares; ``listing``: listing pages; ``book``: book pages.
"""
