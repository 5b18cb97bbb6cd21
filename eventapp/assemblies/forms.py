from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from ..forms_util import TextLength, at_most
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
    date = DateField("Date", validators=[DataRequired("Enter the date, e.g. 2027-03-18.")])
    start_time = TimeField("Starts at", validators=[DataRequired("Enter the start time, e.g. 09:30.")])
    end_time = TimeField("Ends at", validators=[DataRequired("Enter the end time, e.g. 16:00.")])
    timezone = StringField("Time zone", default="Europe/London", validators=[DataRequired("Enter a time zone."), at_most(64)])
    registration_opens_at = DateTimeLocalField("Registration opens", validators=[Optional()])
    registration_closes_at = DateTimeLocalField("Registration closes", validators=[Optional()])
    capacity = IntegerField(
        "Capacity",
        description="Delegate places in the whole assembly.",
        validators=[InputRequired("Enter the capacity."), NumberRange(min=0, max=100_000, message="Enter a number from 0 to 100,000.")],
    )
    org_limit = IntegerField(
        "Delegates per organisation",
        description="Optional limit on delegates from one organisation.",
        validators=[Optional(), NumberRange(min=1, max=100_000, message="Enter a number of at least 1, or leave it empty.")],
    )
    confirm_email_first = BooleanField(
        "Ask delegates to confirm their email address before they get a place",
        description="We email a link; the place (or waiting-list position) is given when they confirm with it. "
                    "Registrations with addresses nobody reads, mistyped or made up, then never hold places.",
        default=True,
    )
    privacy_notice = TextAreaField("Privacy notice", validators=[Optional(), TextLength(TEXT_MAX)])
    retention_days = IntegerField(
        "Keep personal data for (days after archiving)",
        validators=[Optional(), NumberRange(min=0, max=36_500, message="Enter a number of days from 0 to 36,500.")],
    )
    status = SelectField("Status", choices=[SelectChoice(k, v) for k, v in ASSEMBLY_STATUSES.items()])
    # The create and copy forms' one-time token (eventapp.add_once): sent twice, it creates once.
    once = HiddenField()


class RoundForm(FlaskForm):
    name = StringField("Name", description="e.g. Morning breakouts", validators=[DataRequired("Enter a name."), at_most(100)])
    starts_at = TimeField("Starts at", validators=[DataRequired("Enter the start time, e.g. 11:00.")])
    ends_at = TimeField("Ends at", validators=[DataRequired("Enter the end time, e.g. 12:15.")])
    position = IntegerField("Order", validators=[Optional(), NumberRange(min=1, max=100)])
    # As on the workshop form (services.round_version): its times are every placed delegate's calendar times.
    seen = HiddenField()
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


class WorkshopForm(FlaskForm):
    round_id = SelectField("Round", coerce=int, validators=[InputRequired("Choose a round.")])
    # Optional: a new topic named below stands for it (the service says when neither is given).
    topic_id = SelectField("Topic", coerce=int, validators=[Optional()])
    new_topic = StringField("Or a new topic", validators=[Optional(), at_most(120)],
                            description="Only if the topic is not in the list: type its name here instead. "
                                        "It is added to the topic list, for this and later assemblies.")
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    description = TextAreaField("Description", validators=[Optional(), TextLength(TEXT_MAX)])
    room = StringField("Room", validators=[Optional(), at_most(120)])
    capacity = IntegerField(
        "Capacity",
        validators=[InputRequired("Enter the capacity."), NumberRange(min=0, max=10_000, message="Enter a number from 0 to 10,000.")],
    )
    facilitator_ids = SelectMultipleField("Facilitators", coerce=int, validators=[Optional()])
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
    starts_at = TimeField("Starts at", validators=[DataRequired("Enter the start time, e.g. 09:30.")])
    ends_at = TimeField("Ends at", validators=[Optional()])
    title = StringField("Title", validators=[DataRequired("Enter a title."), at_most(200)])
    speaker = StringField("Speaker", validators=[Optional(), at_most(200)])
    organisation_id = SelectField("Organisation", coerce=int, validators=[Optional()])
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
