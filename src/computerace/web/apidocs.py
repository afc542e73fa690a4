"""/docs: the OpenAPI description as a plain HTML page.

FastAPI's default /docs loads Swagger UI from a CDN, which an offline dashboard cannot; this page is
rendered on the server from the same `app.openapi()` dict and needs no script at all.
"""

from __future__ import annotations

import html
import json
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:0 auto;padding:20px;color:#222}
h2{margin-top:1.6em;border-bottom:1px solid #ddd}code{background:#f3f4f6;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:6px 0 14px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;
vertical-align:top;font-size:.92em}.m{font-weight:700;color:#fff;padding:2px 6px;border-radius:3px;
background:#1f5fa8}.post{background:#2e8b57}pre{background:#f3f4f6;padding:8px;overflow-x:auto}"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength", "maxItems") if k in schema]
    return str(schema.get("type", "any")) + (f" ({', '.join(limits)})" if limits else "")


def render(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(info.get('title'))} API</title>"
           f"<style>{CSS}</style></head><body><h1>{_e(info.get('title'))} API <small>{_e(info.get('version'))}</small></h1>"
           f"<p>{_e(info.get('description'))}</p><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
           "Errors a user can fix return 422 with <code>{\"detail\": message}</code>, the message the CLI prints.</p>"]
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            cls = "m post" if method == "post" else "m"
            out.append(f"<h2><span class='{cls}'>{method.upper()}</span> <code>{_e(path)}</code></h2>")
            out.append(f"<p>{_e(op.get('summary'))}</p><p>{_e(op.get('description'))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>default</th><th>description</th></tr>")
                for p in params:
                    sch = p.get("schema", {})
                    out.append(f"<tr><td><code>{_e(p.get('name'))}</code></td><td>{_e(p.get('in'))}</td>"
                               f"<td>{_e(_type(sch))}</td><td>{_e(json.dumps(sch.get('default')))}</td>"
                               f"<td>{_e(p.get('description') or sch.get('description'))}</td></tr>")
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                out.append(f"<p>JSON body: <code>{_e(_type(body))}</code></p>")
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out.append("<h2>Schemas</h2>")
        for name, sch in schemas.items():
            props = sch.get("properties", {})
            out.append(f"<h3><code>{_e(name)}</code></h3><p>{_e(sch.get('description'))}</p>")
            if props:
                out.append("<table><tr><th>field</th><th>type</th><th>description</th></tr>")
                for f, ps in props.items():
                    out.append(f"<tr><td><code>{_e(f)}</code></td><td>{_e(_type(ps))}</td>"
                               f"<td>{_e(ps.get('description'))}</td></tr>")
                out.append("</table>")
    out.append("</body></html>")
    return "".join(out)
