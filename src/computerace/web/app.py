"""The dashboard's FastAPI app: JSON API (OpenAPI at /openapi.json, readable at /docs), the page, assets.

Routes are thin: validation and computing live in service.py. Every error is JSON in one shape, the
`Error` schema: {"detail": <what is wrong and how to fix it>} (422 on an input: the message the CLI prints
after 'error: '; 422 on a malformed parameter adds "errors": [{loc, msg}]). CORS is off (no CORS middleware:
other origins cannot read responses); guard.py checks Host (DNS rebinding), refuses cross-origin requests
to the routes that compute (403), limits query strings (414) and requests in progress (503); bodies over
MAX_BODY_BYTES get 413.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import UserError
from . import (
    DEFAULT_SAMPLES,
    LOOPBACK_HOSTS,
    MAX_ACTIVE_REQUESTS,
    MAX_BODY_BYTES,
    MAX_HORIZON_END,
    MAX_OVERRIDES,
    MAX_QUERY_BYTES,
    MAX_SAMPLES,
    is_loopback,
)
from .guard import Guard
from .service import SEED_MAX, Service, State

STATIC = Path(__file__).parent / "static"
CONDITIONAL = ("A forecast conditional on the scenario's assumptions, not a prediction of what will happen. "
               "Every number in a scenario carries a source or a stated assumption.")


def plotly_js() -> Path:
    """plotly.min.js from the installed plotly package (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


class RunRequest(BaseModel):
    """A run: a preset, overrides in the scenario language (as `--set key=value`), seed and samples."""

    model_config = ConfigDict(extra="forbid")
    scenario: str = Field("baseline", max_length=64, description="A preset name (GET /api/presets); never a path.")
    overrides: dict[str, str | float | int] = Field(
        default_factory=dict, max_length=MAX_OVERRIDES,
        description="{'smuggling.enforcement': '0.01 to 0.05'}: values as after `--set key=`.")
    seed: int = Field(0, ge=0, le=SEED_MAX)
    samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="Default: the server's --samples.")


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: 'query', 'body' or 'path', then the parameter's name.")
    msg: str


class Error(BaseModel):
    """Every error response (400, 403, 404, 405, 408, 413, 414, 422, 500, 503)."""

    detail: str = Field(description="What is wrong and how to fix it; for a bad input, the message the CLI "
                                     "prints after 'error: '.")
    errors: list[ErrorItem] | None = Field(None, description="422 for malformed parameters: each one's location "
                                                             "and message.")


class RunBody(BaseModel):
    """GET/POST /api/run: the view's identity, how to reproduce it, its summary and fan-chart series."""

    model_config = ConfigDict(extra="allow")
    scenario: str
    name: str
    scenario_hash: str
    seed: int
    samples: int
    overrides: dict[str, str]
    cached: bool
    reproduce: str = Field(description="The `computerace run` command that reproduces this view exactly.")
    downloads: dict[str, str]
    server_ms: float
    summary: dict[str, Any] = Field(description="summary.json's layout (NaN and infinities as null), without "
                                                "the metrics the page does not draw.")
    series: dict[str, Any] = Field(description="Monthly 5/50/95% quantiles of the series the page draws.")


class CSVResponse(Response):
    media_type = "text/csv"


class YAMLResponse(Response):
    media_type = "application/yaml"


class JSONText(Response):
    media_type = "application/json"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    what = {400: "Host header does not name this server", 403: "cross-origin request refused",
            404: "not found", 413: "request body too large", 414: "query string too long",
            422: "invalid input (the CLI's message)", 500: "internal error (a bug: please report it)",
            503: "too many requests at once"}
    return {c: {"model": Error, "description": what[c]} for c in codes}


BASE_ERRORS = (400, 414, 422, 500, 503)
COMPUTE_ERRORS = (*BASE_ERRORS, 403)


class Info(BaseModel):
    version: str
    default_samples: int
    max_samples: int
    features: dict[str, bool]
    ranking: dict[str, str]
    conditional: str
    cache: dict[str, int]


def state_params(
    request: Request,
    scenario: Annotated[str, Query(max_length=64, description="A preset name; never a path.")] = "baseline",
    seed: Annotated[int, Query(ge=0, le=SEED_MAX, description="Random seed; same seed, same numbers.")] = 0,
    samples: Annotated[int | None, Query(ge=1, le=MAX_SAMPLES, description=f"Monte Carlo samples, 1 to {MAX_SAMPLES:,} "
                                         "(default: the server's --samples).")] = None,
    set_: Annotated[list[str] | None, Query(alias="set", max_length=MAX_OVERRIDES,
                                            description="Overrides as in the CLI: key=value (repeatable); "
                                                        f"horizon.end at most {MAX_HORIZON_END}.")] = None,
) -> State:
    return request.app.state.service.state(scenario, sets=set_, seed=seed, samples=samples)


StateDep = Annotated[State, Depends(state_params)]


def _attachment(text: str, cls: type[Response], filename: str) -> Response:
    return cls(text, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


HINTS = {"samples": f"the dashboard runs 1 to {MAX_SAMPLES:,} samples; run larger ones with "
                    "'computerace run --samples N'",
         "seed": "a seed is an integer from 0 to 4294967295",
         "scenario": "give a preset name (GET /api/presets)",
         "set": f"at most {MAX_OVERRIDES} overrides, each key=value as after --set"}


def _validation_detail(errs: list[dict[str, Any]]) -> str:
    parts = []
    for e in errs:
        loc = [str(x) for x in e.get("loc", ())]
        name = ".".join(loc[1:]) or "request"
        hint = HINTS.get(loc[-1]) if len(loc) == 2 and loc[0] in ("query", "body") else None
        parts.append(f"{name}: {e.get('msg')}" + (f" ({hint})" if hint else ""))
    return "; ".join(parts)


def _server_timing(t: dict[str, float]) -> str:
    return ", ".join(f"{k};dur={v:.1f}" for k, v in t.items())


def create_app(default_samples: int = DEFAULT_SAMPLES, host: str = "127.0.0.1", warm: bool = True,
               rank: bool = True) -> FastAPI:
    """The dashboard app. `host` is the address the server binds (sets which Host headers are accepted);
    `warm` fills the cache for the default view at start-up; `rank` computes the sensitivity ranking of a
    preset's parameters in the background the first time its inputs are shown."""
    from . import optional

    optional.start_background(rank)
    service = Service(default_samples)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:  # import the model and fill the cache while the first page loads
            threading.Thread(target=service.warm_up, daemon=True, name="computerace-warm-up").start()
        yield
        optional.stop_background()

    app = FastAPI(title="computerace dashboard", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, responses=_errors(*BASE_ERRORS),
                  description="Explore computerace scenarios: presets, parameters with their sources, runs with "
                              "overrides, downloads that `computerace run` reproduces. " + CONDITIONAL)
    app.state.service = service
    # Host must name this server: a page elsewhere cannot reach it through DNS rebinding.
    hosts = [*LOOPBACK_HOSTS, host.strip("[]")] if is_loopback(host) else None
    app.add_middleware(Guard, max_query=MAX_QUERY_BYTES, hosts=hosts, max_active=MAX_ACTIVE_REQUESTS,
                       max_body=MAX_BODY_BYTES)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        return JSONResponse({"detail": _validation_detail(errs),
                             "errors": [{"loc": [x if isinstance(x, int) else str(x) for x in e.get("loc", ())],
                                         "msg": str(e.get("msg"))} for e in errs]},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = (f"no page or API route at {request.url.path[:200]}; the API's routes are listed at /docs, "
                      "the dashboard is at /")
        elif exc.status_code == 405:
            detail = (f"{request.method} is not allowed on {request.url.path[:200]}; /docs lists each route's "
                      "methods")
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}): a bug in computerace "
                                       f"{__version__}; please report it with the URL you opened. Other views "
                                       "still work"}, status_code=500)

    def json_ok(body: str, timings: dict[str, float]) -> Response:
        return Response(body, media_type="application/json", headers={"Server-Timing": _server_timing(timings)})

    # ------------------------------------------------------------------------------- API
    @app.get("/api/info", response_model=Info, tags=["meta"])
    def info() -> dict[str, Any]:
        """Version, sample defaults and limits, and which optional answer modules are present."""
        return {"version": __version__, "default_samples": service.default_samples, "max_samples": MAX_SAMPLES,
                "features": optional.features(), "ranking": optional.ranking_status(),
                "conditional": CONDITIONAL, "cache": dict(service.stats)}

    @app.get("/api/presets", tags=["scenarios"])
    def presets() -> dict[str, Any]:
        """The built-in scenarios with their descriptions, sources and hashes."""
        from ..scenario import load_scenario

        rows = []
        for name in service.presets():
            sc = load_scenario(name)
            rows.append({"name": name, "description": " ".join(sc.description.split()),
                         "sources": sorted(sc.sources_used()), "scenario_hash": sc.hash})
        return {"presets": rows}

    @app.get("/api/parameters", tags=["scenarios"], responses=_errors(*COMPUTE_ERRORS))
    def parameters(scenario: Annotated[str, Query(max_length=64)] = "baseline") -> dict[str, Any]:
        """Every parameter of a preset: unit, distribution, sources or assumption, and slider pins
        (the parameter fixed at each 5th percentile of its distribution), most influential first."""
        return service.parameters(scenario)

    @app.get("/api/run", tags=["runs"], response_model=RunBody, responses=_errors(*COMPUTE_ERRORS))
    def run_get(st: StateDep) -> Response:
        """Run a preset with overrides (cached by scenario hash, seed and samples): the summary
        (summary.json's layout; non-finite numbers as null) and the monthly series the page draws."""
        return json_ok(*service.run_json(st))

    @app.post("/api/run", tags=["runs"], response_model=RunBody, responses=_errors(*COMPUTE_ERRORS, 413))
    def run_post(req: RunRequest) -> Response:
        """As GET /api/run, with the state in a JSON body."""
        st = service.state(req.scenario, overrides=req.overrides, seed=req.seed, samples=req.samples)
        return json_ok(*service.run_json(st))

    @app.get("/api/download/summary.json", tags=["downloads"], response_class=JSONText,
             responses={200: {"description": "summary.json (NaN and infinities as in the file: NaN, Infinity)",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        **_errors(*COMPUTE_ERRORS)})
    def download_summary(st: StateDep) -> Response:
        """summary.json, byte for byte what `computerace run` writes for the downloaded scenario."""
        text, e = service.summary_text(st)
        return _attachment(text, JSONText, f"summary-{e.scenario_hash}-seed{e.seed}-n{e.samples}.json")

    @app.get("/api/download/quantiles.csv", tags=["downloads"], response_class=CSVResponse,
             responses={200: {"description": "quantiles.csv: a header row, then one row per metric, key and date",
                              "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **_errors(*COMPUTE_ERRORS)})
    def download_quantiles(st: StateDep) -> Response:
        """quantiles.csv of the run (every metric, key and date with p5, p50, p95, mean)."""
        text, e = service.quantiles_csv(st)
        return _attachment(text, CSVResponse, f"quantiles-{e.scenario_hash}-seed{e.seed}-n{e.samples}.csv")

    @app.get("/api/download/scenario.yaml", tags=["downloads"], response_class=YAMLResponse,
             responses={200: {"description": "the resolved scenario, a YAML mapping (comments give the command)",
                              "content": {"application/yaml": {"schema": {"type": "object"}}}},
                        **_errors(*COMPUTE_ERRORS)})
    def download_scenario(st: StateDep) -> Response:
        """The resolved scenario of the current state as YAML; its header gives the `computerace run`
        command (same seed and samples) that reproduces the dashboard's numbers exactly."""
        from .service import yaml_filename

        text, sc = service.scenario_yaml(st)
        return _attachment(text, YAMLResponse, yaml_filename(sc))

    @app.get("/api/claims", tags=["answers"], responses=_errors(*COMPUTE_ERRORS))
    def claims(st: StateDep) -> dict[str, Any]:
        """Claims from the public debate with their probability under this run, when the claims module exists."""
        return service.claims(st)

    @app.get("/api/discover", tags=["answers"], responses=_errors(*COMPUTE_ERRORS))
    def discover(st: StateDep, outcome: str = Query("overtake-by-2040", max_length=200,
                                                   description="a built-in outcome (overtake-by-YYYY, "
                                                   "years-behind-below-K-in-YYYY), a claim id, or an expression "
                                                   "(docs/discover.md)")) -> dict[str, Any]:
        """Which worlds make an outcome happen: PRIM boxes with coverage and density, said in words, on the view's
        prior samples (as `computerace discover --json`), and the peeling trajectory as a Plotly figure."""
        return service.discover(st, outcome)

    @app.get("/api/sources/{source_id}", tags=["sources"], responses=_errors(*BASE_ERRORS, 404))
    def source(source_id: str) -> dict[str, Any]:
        """One source of the catalog by id: title, URL, publisher, date, quote, status."""
        from dataclasses import asdict

        from ..catalog import sources
        from ..errors import did_you_mean

        s = sources().get(source_id)
        if s is None:
            hint = did_you_mean(source_id, sources())
            raise HTTPException(404, f"unknown source id '{source_id[:80]}'" + (f"; {hint}" if hint else ""))
        return asdict(s)

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI documents an error response in the route's own media type (text/csv for quantiles.csv);
        every error here is JSON (the Error schema), so say so."""
        if app.openapi_schema is None:
            spec = plain_openapi()
            for ops in spec.get("paths", {}).values():
                for op in ops.values():
                    for code, resp in op.get("responses", {}).items():
                        if code[:1] in ("4", "5"):
                            resp["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # ------------------------------------------------------------------------- page, assets
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        from .apidocs import render

        return HTMLResponse(render(app.openapi()))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
