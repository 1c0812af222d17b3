"""`reviewflow serve`: the HTTP API and the web pages, under uvicorn."""

from __future__ import annotations

import ipaddress
import os

import click

from reviewflow.cli import service, settings


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, tls: bool, behind_proxy: bool) -> None:
    """Refuse to listen on a public address in the clear: people's sign-ins and case records would cross the
    network unencrypted."""
    if _loopback(host) or tls or behind_proxy:
        return
    from reviewflow.engine.core.errors import UsageError

    raise UsageError(f"refusing to serve on {host} without TLS: configure [web] tls_cert and tls_key, or run "
                     "behind a reverse proxy that terminates TLS and pass --behind-proxy (see docs/deploy.md)",
                     field="host", value=host)


@click.command()
@click.option("--host", help="Address to listen on (default: [web] host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, else 8000).")
@click.option("--workers", type=click.IntRange(1, 64), help="Processes (default: [web] workers, else 1).")
@click.option("--behind-proxy", is_flag=True, default=None,
              help="A reverse proxy in front terminates TLS (trust its X-Forwarded-* headers).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None,
          behind_proxy: bool | None) -> None:
    """Serve the HTTP API (/api/v1) and the web pages until stopped (Ctrl-C)."""
    import uvicorn

    rf = service(ctx)
    rf.ensure_ready()
    web = rf.settings.web
    host = host or web.host
    port = port or web.port
    workers = workers or web.workers
    proxy = web.behind_proxy if behind_proxy is None else behind_proxy
    tls = bool(web.tls_cert and web.tls_key)
    check_binding(host, tls, proxy)
    options = settings(ctx)
    os.environ["REVIEWFLOW_DB"] = options.database_url()
    for name, value in (("REVIEWFLOW_CONFIG", str(options.config) if options.config else None),
                        ("REVIEWFLOW_NOW", options.now), ("REVIEWFLOW_LOG_JSON", "1" if options.log_json else None),
                        ("REVIEWFLOW_VERBOSE", "1" if options.verbose else None)):
        if value:
            os.environ[name] = value
    scheme = "https" if tls else "http"
    click.echo(f"serving reviewflow on {scheme}://{host}:{port} with {workers} worker(s); stop with Ctrl-C", err=True)
    uvicorn.run("reviewflow.web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=web.tls_cert if tls else None, ssl_keyfile=web.tls_key if tls else None,
                proxy_headers=proxy, log_level="warning",
                server_header=False, date_header=False)


COMMANDS = [serve]
