"""`telecentre-portal`: serve the captive portal (HTTP, and HTTPS when given a certificate)."""

import argparse
import logging
import ssl
import sys
import threading

from werkzeug.serving import make_server

from captive_portal import create_app

DEFAULT_STATE_DIR = "/var/lib/telecentre-portal"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(prog="telecentre-portal", description=__doc__)
    parser.add_argument("--gateway-socket", required=True, help="the gateway daemon's socket")
    parser.add_argument("--port", type=int, required=True, help="HTTP port (the DNAT target)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"where the form-signing key is kept (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--url", help="the portal's own URL, e.g. http://10.44.0.1:8080")
    parser.add_argument("--venue-info-url", help="RFC 8908 venue-info-url")
    parser.add_argument("--cert", help="TLS certificate (PEM) for HTTPS and the RFC 8908 API")
    parser.add_argument("--key", help="TLS private key (PEM)")
    parser.add_argument("--tls-port", type=int, default=8443, help="HTTPS port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(
        {
            "GATEWAY_SOCKET": args.gateway_socket,
            "PORTAL_URL": args.url,
            "VENUE_INFO_URL": args.venue_info_url,
            "STATE_DIR": args.state_dir,
        }
    )
    servers = [make_server(args.host, args.port, app, threaded=True)]
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        servers.append(
            make_server(args.host, args.tls_port, app, threaded=True, ssl_context=context)
        )
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"portal ready on port {args.port}", flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
