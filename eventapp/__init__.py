"""eventapp: multi-agency assemblies end to end.

The Flask app is built lazily so that pure packages such as
``eventapp.allocation`` import without pulling in Flask or SQLAlchemy.
"""


def create_app(test_config=None):
    """Build the Flask application (see eventapp.app)."""
    from .app import create_app as _create_app

    return _create_app(test_config)
