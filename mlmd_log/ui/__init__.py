"""The lineage explorer: a browser UI over a store's read API, with time travel.

:func:`~mlmd_log.ui.app.create_app` serves it for one store (``mlmd-log ui``
uses :func:`~mlmd_log.ui.app.serve_ui`); :func:`~mlmd_log.ui.app.ui_router` is
the same pages and JSON endpoints as a FastAPI router another server can
include. The pages are a prebuilt bundle in ``static/`` (sources in
``frontend/``): nothing runs Node.js at run time.
"""
