"""Two sign-ins sent at the same moment with the same code, or wrong codes sent side by side: one sign-in only, and
every wrong code counted."""
from __future__ import annotations

import pyotp
import pytest
from flask_migrate import upgrade

from eventapp.accounts import two_step
from eventapp.accounts.models import User
from eventapp.extensions import db as _db
from eventapp.txn import read_first
from tests.accounts.test_two_step import wrong_code
from tests.concurrency import BACKENDS, at_once, own_database
from tests.conftest import make_test_app
from tests.factories import make_user

THREADS = 6


@pytest.fixture
def database(request, tmp_path):
    with own_database(request.param, tmp_path, "twostep") as url:
        yield url


def _side_by_side(database: str, code_for) -> tuple[list[str], User]:
    """THREADS attempts that each read the account, wait for the others to have read it too, then send a code;
    what each was answered ("app" or the refusal) and the account afterwards."""
    app = make_test_app(database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS, "max_overflow": 0})
    secret = pyotp.random_base32(32)
    with app.app_context():
        upgrade()
        user = make_user("facilitator")
        user.totp_secret = secret
        _db.session.commit()
        user_id = user.id
        _db.session.remove()

    def attempt(i: int, ready) -> str:
        # Read as a request reads before its service runs (on SQLite without the write lock yet).
        read_first()
        user = _db.session.get(User, user_id)
        assert user.totp_last_step is None and user.two_step_failures == 0
        ready(timeout=30)
        try:
            return two_step.verify_sign_in(user, code_for(secret, i))
        except two_step.CodeRefused as err:
            return err.message

    answers, errors = at_once(app, THREADS, attempt,
                              context=lambda: app.test_request_context("/login/two-step", method="POST"))
    with app.app_context():
        user = _db.session.get(User, user_id)
        _db.session.expunge(user)
        _db.session.remove()
        _db.engine.dispose()
    assert errors == []
    return answers, user


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_one_code_sent_twice_at_once_signs_in_once(database):
    answers, user = _side_by_side(database, lambda secret, i: pyotp.TOTP(secret).now())
    assert answers.count("app") == 1, answers
    assert all("already used" in a for a in answers if a != "app")
    assert user.totp_last_step is not None and user.two_step_failures == THREADS - 1


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_wrong_codes_sent_at_once_are_all_counted(database):
    answers, user = _side_by_side(database, wrong_code)
    assert len(answers) == THREADS and "app" not in answers
    assert user.two_step_failures == THREADS
