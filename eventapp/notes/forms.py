from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms_util import ChoiceField, ChoicesField, DayField, at_most
from .models import ACTION_STATUSES, SECTION_HINTS, SECTIONS
from ..text import is_number


SHORT_NAMES = {"summary": "the summary", "working": "what is working", "not_working": "what is not working",
               "barriers": "the barriers", "ideas": "the ideas", "free_notes": "the free notes"}


class NotesForm(FlaskForm):
    version = HiddenField(default="0")


for _key, _label in SECTIONS.items():
    # No length validator here: the service checks it, and a refused save must keep the text.
    setattr(NotesForm, _key, TextAreaField(_label, description=SECTION_HINTS[_key]))
    setattr(NotesForm, f"{_key}_internal", BooleanField(f"Internal only: never publish {SHORT_NAMES[_key]}"))


def notes_data(form: NotesForm) -> dict:
    """The sections and flags as the service expects them."""
    data = {}
    for key in SECTIONS:
        data[key] = form[key].data or ""
        data[f"{key}_internal"] = bool(form[f"{key}_internal"].data)
    return data


class WalkInForm(FlaskForm):
    registration_id = ChoiceField("Registered delegate", coerce=int, validate_choice=False,
                                  description="Someone who registered for the assembly but was allocated elsewhere.",
                                  invalid="Choose a delegate from the list.")
    name = StringField("Or a new person: full name", validators=[at_most(200)])
    organisation = StringField("Their organisation", validators=[at_most(200)])


class MultiCheckboxField(ChoicesField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    version = HiddenField(default="1")
    description = TextAreaField("What will be done", validators=[DataRequired("Describe the action.")],
                                description="Plain text or Markdown.")
    owner_organisation_id = ChoiceField("Owner organisation", coerce=int, validate_choice=False,
                                        validators=[DataRequired("Choose the organisation that owns this action.")],
                                        invalid="Choose the organisation that owns this action from the list.")
    lead_person = StringField("Lead person (optional)", validators=[at_most(200)])
    due_date = DayField("Due date", validators=[DataRequired("Enter the due date.")],
                        invalid="Enter the due date as year-month-day, e.g. 2027-06-30.")
    status = ChoiceField("Status", choices=[SelectChoice(k, v) for k, v in ACTION_STATUSES.items()], default="open",
                         invalid="Choose a status from the list.")
    topic_ids = MultiCheckboxField("Topics", coerce=int, validate_choice=False, invalid="Tick topics from the list.")
    internal = BooleanField("Internal only: never published")


def _id_or_zero(value) -> int:
    # Filters come from the query string: anything that is not an id means "any".
    text = str(value if value is not None else "").strip()
    return int(text) if is_number(text) else 0


class ActionFilterForm(FlaskForm):
    class Meta:
        csrf = False

    assembly = SelectField("Assembly", coerce=_id_or_zero, validate_choice=False)
    topic = SelectField("Topic", coerce=_id_or_zero, validate_choice=False)
    organisation = SelectField("Owner organisation", coerce=_id_or_zero, validate_choice=False)
    status = ChoiceField("Status", choices=[SelectChoice("", "Any status")] +
                         [SelectChoice(k, v) for k, v in ACTION_STATUSES.items()], validators=[Optional()],
                         invalid="Choose a status from the list.")
    due_from = DayField("Due on or after", validators=[Optional()],
                        invalid="Enter the date as year-month-day, e.g. 2027-06-30, or leave it empty.")
    due_to = DayField("Due on or before", validators=[Optional()],
                      invalid="Enter the date as year-month-day, e.g. 2027-06-30, or leave it empty.")

    def fill_choices(self) -> None:
        """Offer every assembly, topic and organisation as a filter value."""
        from sqlalchemy import select

        from ..assemblies.models import Assembly, Topic
        from ..extensions import db
        from ..organisations.models import Organisation

        self.assembly.choices = [SelectChoice(0, "All assemblies")] + [
            SelectChoice(a.id, a.title) for a in db.session.scalars(select(Assembly).order_by(Assembly.date.desc(), Assembly.id.desc()))]
        self.topic.choices = [SelectChoice(0, "Any topic")] + [
            SelectChoice(t.id, t.name) for t in db.session.scalars(select(Topic).order_by(Topic.name))]
        self.organisation.choices = [SelectChoice(0, "Any organisation")] + [
            SelectChoice(o.id, o.name) for o in db.session.scalars(select(Organisation).order_by(Organisation.name))]


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the choices arrive as checkbox lists."""
