"""Records of what a crawl did not export: rejects, failures, lost requests.

- ``rejects``: items not exported (``REJECTS_FILE``), with their stage and reasons.
- ``failures``: requests given up on (``FAILURES_FILE``), each written once.
- ``lost``: requests Scrapy ends without a page, turned into failures.
- ``credentials``: proxy credentials masked in everything written, stripped from keys.
- ``shared``: one instance of a record keeper per crawl, whoever asks first.

A request whose failure is written carries ``failures.RECORDED`` in its meta; a
component that writes the failure and then drops the request raises
``failures.RequestRecorded`` (an ``IgnoreRequest``), which the errback recognises
by its type, never by its message.
"""
