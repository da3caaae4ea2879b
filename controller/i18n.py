"""Languages: Polish by default, English per user, chosen before login through the session."""

from flask import Flask, current_app, g, has_request_context, request, session
from flask_login import current_user

from controller.api.core import is_api_request
from controller.extensions import babel


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the controller's locale selection."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.policies["ext.i18n.trimmed"] = True


def select_locale() -> str:
    """The language of this request.

    API callers: their Accept-Language, else the token owner's language. Pages: the signed-in
    user's language, else the one chosen in the session, else Polish.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI speaks English, as terminals and logs do
        return "en"
    if is_api_request():
        asked = request.accept_languages.best_match(languages)
        user = g.get("api_user")
        return asked or (user.locale if user is not None else None) or languages[0]
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
