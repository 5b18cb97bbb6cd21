from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from ..forms_util import (ChoiceField, ChoicesField, DayAndTimeField, DayField, TextLength, TimeOfDayField,
                          WholeNumberField, at_most)
from .models import ASSEMBLY_STATUSES

TEXT_MAX = 10_000


class AssemblyForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    slug = StringField(
        "Web address",
        description="Part of the page's address: lower-case letters, digits and hyphens, e.g. community-safety-2026.",
        validators=[DataRequired("Enter a web address."), at_most(100)],
    )
    series_name = StringField(
        "Series",
        description="Optional. Assemblies in the same series carry actions forward, e.g. 'County Community Safety Assembly'.",
        validators=[Optional(), at_most(200)],
    )
    summary = TextAreaField("Summary", validators=[Optional(), TextLength(TEXT_MAX)])
    venue_name = StringField("Venue", validators=[DataRequired("Enter the venue."), at_most(200)])
    venue_address = TextAreaField("Venue address", validators=[Optional(), TextLength(1000)])
    date = DayField("Date", validators=[DataRequired("Enter the date, e.g. 2027-03-18.")],
                    invalid="Enter the date as year-month-day, e.g. 2027-03-18.")
    start_time = TimeOfDayField("Starts at", validators=[DataRequired("Enter the start time, e.g. 09:30.")],
                                invalid="Enter the start time as hours and minutes on the 24-hour clock, e.g. 09:30.")
    end_time = TimeOfDayField("Ends at", validators=[DataRequired("Enter the end time, e.g. 16:00.")],
                              invalid="Enter the end time as hours and minutes on the 24-hour clock, e.g. 16:00.")
    timezone = StringField("Time zone", default="Europe/London", validators=[DataRequired("Enter a time zone."), at_most(64)])
    registration_opens_at = DayAndTimeField(
        "Registration opens", validators=[Optional()],
        invalid="Enter when registration opens as a date and a time, e.g. 2027-01-11 09:00, or leave it empty.")
    registration_closes_at = DayAndTimeField(
        "Registration closes", validators=[Optional()],
        invalid="Enter when registration closes as a date and a time, e.g. 2027-03-11 17:00, or leave it empty.")
    capacity = WholeNumberField(
        "Capacity",
        description="Delegate places in the whole assembly.",
        validators=[InputRequired("Enter the capacity."), NumberRange(min=0, max=100_000, message="Enter a number from 0 to 100,000.")],
        invalid="Enter the capacity as a whole number, e.g. 120.",
    )
    org_limit = WholeNumberField(
        "Delegates per organisation",
        description="Optional limit on delegates from one organisation.",
        validators=[Optional(), NumberRange(min=1, max=100_000, message="Enter a number from 1 to 100,000, or leave it empty.")],
        invalid="Enter the limit as a whole number, e.g. 4, or leave it empty.",
    )
    confirm_email_first = BooleanField(
        "Ask delegates to confirm their email address before they get a place",
        description="We email a link; the place (or waiting-list position) is given when they confirm with it. "
                    "Registrations with addresses nobody reads, mistyped or made up, then never hold places.",
        default=True,
    )
    privacy_notice = TextAreaField("Privacy notice", validators=[Optional(), TextLength(TEXT_MAX)])
    retention_days = WholeNumberField(
        "Keep personal data for (days after archiving)",
        validators=[Optional(), NumberRange(min=0, max=36_500, message="Enter a number of days from 0 to 36,500.")],
        invalid="Enter the number of days as a whole number, e.g. 365, or leave it empty.",
    )
    status = ChoiceField("Status", choices=[SelectChoice(k, v) for k, v in ASSEMBLY_STATUSES.items()],
                         invalid="Choose a status from the list.")
    # The create and copy forms' one-time token (eventapp.add_once): sent twice, it creates once.
    once = HiddenField()


class RoundForm(FlaskForm):
    name = StringField("Name", description="e.g. Morning breakouts", validators=[DataRequired("Enter a name."), at_most(100)])
    starts_at = TimeOfDayField("Starts at", validators=[DataRequired("Enter the start time, e.g. 11:00.")],
                               invalid="Enter the start time as hours and minutes on the 24-hour clock, e.g. 11:00.")
    ends_at = TimeOfDayField("Ends at", validators=[DataRequired("Enter the end time, e.g. 12:15.")],
                             invalid="Enter the end time as hours and minutes on the 24-hour clock, e.g. 12:15.")
    position = WholeNumberField("Order", validators=[Optional(), NumberRange(
        min=1, max=100, message="Enter a number from 1 to 100, or leave it empty.")],
        invalid="Enter the order as a whole number, e.g. 2, or leave it empty.")
    # As on the workshop form (services.round_version): its times are every placed delegate's calendar times.
    seen = HiddenField()
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


class WorkshopForm(FlaskForm):
    round_id = ChoiceField("Round", coerce=int, validators=[InputRequired("Choose a round.")],
                           invalid="Choose a round from the list.")
    # Optional: a new topic named below stands for it (the service says when neither is given).
    topic_id = ChoiceField("Topic", coerce=int, validators=[Optional()],
                           invalid="Choose a topic from the list, or type a new one below.")
    new_topic = StringField("Or a new topic", validators=[Optional(), at_most(120)],
                            description="Only if the topic is not in the list: type its name here instead. "
                                        "It is added to the topic list, for this and later assemblies.")
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    description = TextAreaField("Description", validators=[Optional(), TextLength(TEXT_MAX)])
    room = StringField("Room", validators=[Optional(), at_most(120)])
    capacity = WholeNumberField(
        "Capacity",
        validators=[InputRequired("Enter the capacity."), NumberRange(min=0, max=10_000, message="Enter a number from 0 to 10,000.")],
        invalid="Enter the capacity as a whole number, e.g. 30.",
    )
    facilitator_ids = ChoicesField("Facilitators", coerce=int, validators=[Optional()],
                                   invalid="Choose the facilitators from the list.")
    # The workshop as it stood when the form was opened (services.workshop_version): a save from a form opened
    # before someone else's is refused rather than quietly putting back what they changed.
    seen = HiddenField()
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


class TopicForm(FlaskForm):
    name = StringField("Topic", validators=[DataRequired("Enter the topic."), at_most(120)])
    description = TextAreaField("Description", validators=[Optional(), TextLength(TEXT_MAX)])
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


class AgendaItemForm(FlaskForm):
    starts_at = TimeOfDayField("Starts at", validators=[DataRequired("Enter the start time, e.g. 09:30.")],
                               invalid="Enter the start time as hours and minutes on the 24-hour clock, e.g. 09:30.")
    ends_at = TimeOfDayField("Ends at", validators=[Optional()],
                             invalid="Enter the end time as hours and minutes on the 24-hour clock, e.g. 10:15, "
                                     "or leave it empty.")
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    speaker = StringField("Speaker", validators=[Optional(), at_most(200)])
    organisation_id = ChoiceField("Organisation", coerce=int, validators=[Optional()],
                                  invalid="Choose an organisation from the list.")
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


class CopyAssemblyForm(AssemblyForm):
    """A new assembly's details, filled from another, and what else to copy from it."""

    copy_workshops = BooleanField("Copy its breakout rounds and workshops (topics, rooms, capacities)", default=True)
    copy_facilitators = BooleanField("Keep each workshop's facilitators", default=True)
    copy_agenda = BooleanField("Copy its plenary agenda", default=True)
    copy_documents = BooleanField("Copy its documents", default=False,
                                  description="For example the Community Safety Agreement. Each keeps who can see it; "
                                              "delete any you do not need on the new assembly's Documents page.")
