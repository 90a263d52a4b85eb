"""Flask's signed-cookie session, opened only for requests that carry the cookie.

Only the inspectors' dashboard (/inspect) keeps anything in the session (flashed messages).
Flask's own interface builds an itsdangerous serializer on every request before it even
looks for the cookie; phones, printers and API clients never send one, so for them the
session is now just an empty dict (the in-process scan profile, loadtests/profile_scan.py,
counted the serializer at ~5 % of a request).
"""

from __future__ import annotations

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessionOnDemand(SecureCookieSessionInterface):
    def open_session(self, app, request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
