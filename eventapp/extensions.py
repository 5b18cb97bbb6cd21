"""Flask extensions, created unbound and initialised in the app factory."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


class StaffLoginManager(LoginManager):
    """Flask-Login, except that a form sent after its sender was signed out is offered back to send again.

    A facilitator signed out in another tab (or everywhere, from another device) while typing an
    action still holds a valid form token: the form passes the CSRF check and meets
    ``login_required``, whose redirect to the sign-in page would drop everything typed.
    """

    def unauthorized(self):
        from .errors import signed_out_send_again

        page = signed_out_send_again()
        if page is not None:
            return page
        return super().unauthorized()


login_manager = StaffLoginManager()
csrf = CSRFProtect()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
