"""Our server's app under granian, for the ASGI server comparison of ``benchmarks/serving.py``.

``modelyard serve`` runs uvicorn (uvloop + httptools). To measure the same app on
granian, each granian worker calls :func:`create_app` (``granian --factory``): it
builds the app exactly as ``modelyard serve`` does in each uvicorn worker,
``make_app(ServeOptions, load_settings())``, with the options from the
``BENCH_SERVE_OPTIONS`` variable (``ServeOptions.to_json``) and the home from
``MODELYARD_HOME``. Benchmark-only: granian is not a dependency of modelyard.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

OPTIONS_VARIABLE = "BENCH_SERVE_OPTIONS"


def create_app() -> Starlette:
    """Build our app for one granian worker (models load in its lifespan startup)."""
    from modelyard.config import load_settings
    from modelyard.serving import ServeOptions, make_app

    options = ServeOptions.from_json(os.environ[OPTIONS_VARIABLE])
    return make_app(options, load_settings())
