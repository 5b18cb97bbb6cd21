from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from ..forms_util import ChoiceField, DayField, at_most
from ..notes.forms import ActionFilterForm
from ..notes.models import ACTION_STATUSES


class UpdateForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    published_on = DayField("Date", validators=[DataRequired("Enter the date of the update.")],
                            description="A date in the future publishes the update on that day.",
                            invalid="Enter the date as year-month-day, e.g. 2027-03-18.")
    # No length validator: the service checks it and a refused save keeps the text.
    body = TextAreaField("Update", validators=[DataRequired("Write the update.")],
                         description="Plain text or Markdown. It is published on the public updates page and feed: "
                                     "do not include anyone's personal details.")


class StatusForm(FlaskForm):
    status = ChoiceField("New status", choices=[SelectChoice(k, v) for k, v in ACTION_STATUSES.items()],
                         invalid="Choose a status from the list.")
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
