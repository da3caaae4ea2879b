"""Languages: Polish by default, English per user, chosen before login through the session."""

from flask import Flask, g, request, session
from flask_login import current_user

from controller.extensions import babel


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the controller's locale selection."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.policies["ext.i18n.trimmed"] = True


def select_locale() -> str:
    """The language of this request: the API caller's or signed-in user's, else the session's."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    user = g.get("api_user")
    if user is None and request.blueprint != "api" and current_user.is_authenticated:
        user = current_user
    if user is not None and user.locale in languages:
        return user.locale
    if request.blueprint == "api":
        return request.accept_languages.best_match(languages) or languages[0]
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
