from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from ..forms_util import at_most
from ..notes.forms import ActionFilterForm
from ..notes.models import ACTION_STATUSES


class UpdateForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    published_on = DateField("Date", validators=[DataRequired("Enter the date of the update.")],
                             description="A date in the future publishes the update on that day.")
    # No length validator: the service checks it and a refused save keeps the text.
    body = TextAreaField("Update", validators=[DataRequired("Write the update.")],
                         description="Plain text or Markdown. It is published on the public updates page and feed: "
                                     "do not include anyone's personal details.")


class StatusForm(FlaskForm):
    status = SelectField("New status", choices=[SelectChoice(k, v) for k, v in ACTION_STATUSES.items()])
    # No length validator (it would render maxlength, which cuts a paste short silently and counts a line
    # break as one character while the browser sends two): the service checks it and a refused save keeps the text.
    note = TextAreaField("What has happened (optional)",
                         description="For example progress made, or why the action was dropped. "
                                     "At most 2,000 characters.")


class ContactForm(FlaskForm):
    contact_name = StringField("Contact name (optional)", validators=[at_most(200)])
    contact_email = StringField("Contact email", validators=[at_most(254)],
                                description="Receives the partner link and reminders about this organisation's actions.")


class ConfirmForm(FlaskForm):
    """Only the CSRF token."""


class TrackerFilterForm(ActionFilterForm):
    overdue = BooleanField("Only overdue actions")
