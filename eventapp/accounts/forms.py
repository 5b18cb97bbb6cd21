from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length

from ..forms_util import ChoiceField, at_most
from .models import ROLE_LABELS


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."), at_most(254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), at_most(200)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    password = PasswordField(
        "New password",
        description="At least 10 characters. A few unrelated words make a strong password.",
        validators=[DataRequired("Enter a new password."), Length(min=10, max=200, message="Use 10 to 200 characters.")],
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Confirm the new password."), EqualTo("password", "The two passwords do not match.")],
    )


class UserForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), at_most(200)])
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter an email address."), Email("Enter an email address like name@example.org."), at_most(254)],
    )
    role = ChoiceField("Role", choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()],
                       invalid="Choose a role from the list.")
    password = PasswordField(
        "Initial password",
        description="At least 10 characters. Ask them to change it after signing in.",
        validators=[DataRequired("Enter an initial password."), Length(min=10, max=200, message="Use 10 to 200 characters.")],
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."), at_most(254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        description="At least 10 characters. A few unrelated words make a strong password.",
        validators=[DataRequired("Enter a new password."), Length(min=10, max=200, message="Use 10 to 200 characters.")],
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Confirm the new password."), EqualTo("password", "The two passwords do not match.")],
    )


class TwoStepCodeForm(FlaskForm):
    code = StringField(
        "Code",
        description="The 6 digits your authenticator app shows for this account, or one of your recovery codes.",
        validators=[DataRequired("Enter the code from your authenticator app."), at_most(40)],
    )


class TwoStepSetupForm(FlaskForm):
    code = StringField(
        "Code from your app",
        description="The 6 digits the app shows now for this account (spaces are fine).",
        validators=[DataRequired("Enter the 6-digit code your app shows."), at_most(20)],
    )


def _current_app_code() -> StringField:
    """The code field of the forms that prove the app is still at hand (switching off, new recovery codes)."""
    return StringField(
        "Code from your app",
        description="The 6 digits your app shows now.",
        validators=[DataRequired("Enter the 6-digit code your app shows."), at_most(20)],
    )


class TwoStepOffForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password."), at_most(200)])
    code = _current_app_code()


class RecoveryCodesForm(FlaskForm):
    code = _current_app_code()
