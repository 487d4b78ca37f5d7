"""One Django site for the web tests: real sessions and auth over an in-memory SQLite database.

Django's settings can be configured once per process; every Django test module imports this.
"""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        ROOT_URLCONF="tests.web.web_django_urls", ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "django.contrib.sessions"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        SECRET_KEY="django-tests-only", USE_TZ=True)
    django.setup()

_migrated = False


def database() -> None:
    """Create the auth and session tables (once; the in-memory database lives as long as the
    thread's connection, which Django keeps open for in-memory SQLite)."""
    global _migrated
    if not _migrated:
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        _migrated = True
