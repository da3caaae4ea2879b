"""The portal's pages, the RFC 8908 API and the operating systems' connectivity probes."""

import json
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from agents.gateway import api as gateway_api
from captive_portal import strings

bp = Blueprint("portal", __name__)
CODE_MAX = 64
CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
# Probe paths and what each OS expects once it is online.
PROBES = {
    "/generate_204": ("", 204, "text/plain"),
    "/gen_204": ("", 204, "text/plain"),
    "/hotspot-detect.html": (
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        200,
        "text/html",
    ),
    "/library/test/success.html": (
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        200,
        "text/html",
    ),
    "/connecttest.txt": ("Microsoft Connect Test", 200, "text/plain"),
    "/ncsi.txt": ("Microsoft NCSI", 200, "text/plain"),
    "/success.txt": ("success\n", 200, "text/plain"),
    "/canonical.html": (
        '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
        200,
        "text/html",
    ),
}


def _gateway(op: str, **fields) -> dict:
    """Ask the gateway daemon; an answer with error gateway_unavailable when it cannot."""
    try:
        return gateway_api.call(
            current_app.config["GATEWAY_SOCKET"], {"op": op, "ip": request.remote_addr, **fields}
        )
    except (OSError, ValueError):
        current_app.logger.warning("gateway socket unavailable")
        return {"ok": False, "error": {"code": "gateway_unavailable"}}


def _language() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    return chosen if chosen in strings.LANGUAGES else strings.DEFAULT


@bp.before_app_request
def _before():
    g.lang = _language()
    g.t = strings.text(g.lang)
    portal = current_app.config.get("PORTAL_URL")
    if portal and request.host != urlsplit(portal).netloc and request.path != "/api/captive":
        return _foreign()
    return None


def _foreign():
    """A request meant for another host, redirected here by the gateway's DNAT."""
    probe = PROBES.get(request.path)
    if probe and (_gateway("status").get("session") or None):
        body, status, mimetype = probe  # online already: tell the OS so
        return Response(body, status, mimetype=mimetype)
    return redirect(current_app.config["PORTAL_URL"].rstrip("/") + "/", 302)


@bp.after_app_request
def _headers(response):
    if request.args.get("lang") in strings.LANGUAGES:
        response.set_cookie(
            "lang", request.args["lang"], max_age=365 * 86400, samesite="Lax", httponly=True
        )
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _t() -> dict:
    if "t" not in g:
        g.lang = _language()
        g.t = strings.text(g.lang)
    return g.t


def _refusal(code: str, retry_after: int | None = None):
    message = _t().get(code) or g.t["refused"]
    if code == "too_many_attempts":
        message = message.format(seconds=retry_after or 60)
    status = strings.STATUS.get(code, 403)
    state = _gateway("status") if code not in ("gateway_unavailable", "too_large") else {}
    typed = request.form.get("code", "")[:CODE_MAX] if code != "too_large" else ""
    portal = state.get("portal") or {}
    page = render_template("splash.html", error=message, portal=portal, code=typed)
    response = Response(page, status, mimetype="text/html")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.get("/")
def splash():
    """The login page, or the status page for a client already online."""
    state = _gateway("status")
    if state.get("session"):
        return redirect("/status")
    if not state.get("ok"):
        return _refusal(state.get("error", {}).get("code", "gateway_unavailable"))
    return render_template("splash.html", error=None, portal=state.get("portal") or {}, code="")


@bp.post("/login")
def login():
    """Voucher or click-through login (terms accepted), by form; no JavaScript needed."""
    method = request.form.get("method", "")
    code = request.form.get("code", "")
    if method not in ("voucher", "click"):
        return _refusal("bad_form")
    if len(code) > CODE_MAX:
        return _refusal("voucher_unknown")
    if request.form.get("terms") != "yes":
        return _refusal("terms_not_accepted")
    if method == "voucher" and not code.strip():
        return _refusal("voucher_unknown")
    answer = _gateway(
        "authorise",
        method=method,
        code=code if method == "voucher" else None,
        terms=True,
        language=g.lang,
    )
    if not answer.get("ok"):
        error = answer.get("error") or {}
        return _refusal(str(error.get("code", "refused")), error.get("retry_after"))
    return redirect("/status", 303)


@bp.get("/status")
def status():
    """Time and data left, with a Logout button."""
    state = _gateway("status")
    session = state.get("session")
    if not session:
        return redirect("/")
    return render_template("status.html", session=session)


@bp.post("/logout")
def logout():
    """End the client's session."""
    _gateway("deauthorise")
    return render_template("message.html", message=g.t["logged_out"])


@bp.get("/api/captive")
def captive_api():
    """RFC 8908 Captive Portal API."""
    state = _gateway("status")
    session = state.get("session")
    base = (current_app.config.get("PORTAL_URL") or request.host_url).rstrip("/")
    body = {"captive": not session, "user-portal-url": base + "/"}
    if current_app.config.get("VENUE_INFO_URL"):
        body["venue-info-url"] = current_app.config["VENUE_INFO_URL"]
    if session:
        body["seconds-remaining"] = session["seconds_remaining"]
        if session.get("bytes_remaining") is not None:
            body["bytes-remaining"] = session["bytes_remaining"]
        body["can-extend-session"] = False
    response = Response(json.dumps(body), 200, mimetype="application/captive+json")
    response.headers["Cache-Control"] = "private, no-store"
    return response


for _number, _path in enumerate(PROBES):  # probes asked of the portal's own host name
    bp.add_url_rule(_path, f"probe_{_number}", lambda: _foreign_or_home())


def _foreign_or_home():
    probe = PROBES.get(request.path)
    if probe and _gateway("status").get("session"):
        body, code, mimetype = probe
        return Response(body, code, mimetype=mimetype)
    return redirect("/", 302)


@bp.app_errorhandler(CSRFError)
def _csrf(_exc):
    return _refusal("bad_form")


@bp.app_errorhandler(HTTPException)
def _http(exc):
    if exc.code == 413:
        return _refusal("too_large")
    if exc.code == 404:
        return Response(render_template("message.html", message=_t()["not_found"]), 404)
    return Response(render_template("message.html", message=_t()["refused"]), exc.code or 400)


@bp.app_errorhandler(Exception)
def _any(exc):  # never a stack trace for a visitor
    current_app.logger.exception("portal error")
    return Response(render_template("message.html", message=_t()["refused"]), 503)
