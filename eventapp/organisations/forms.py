from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange

from ..forms_util import ChoiceField, at_most
from .models import SECTORS, STATUSES


class OrganisationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the organisation's name."), at_most(200)])
    sector = ChoiceField("Sector", choices=[SelectChoice(k, v) for k, v in SECTORS.items()],
                         invalid="Choose a sector from the list.")
    status = ChoiceField("Status", choices=[SelectChoice(k, v) for k, v in STATUSES.items()],
                         invalid="Choose a status from the list.")


class MergeForm(FlaskForm):
    target_id = ChoiceField(
        "Merge into",
        coerce=int,
        description="Everything recorded against this organisation moves to the one you choose, and this one is removed.",
        # The list starts on "Choose..." (0), never on an organisation: a merge cannot be undone, so one not
        # chosen must not happen because it was first in the list.
        default=0,
        validators=[InputRequired("Choose the organisation to keep."),
                    NumberRange(min=1, message="Choose the organisation to keep.")],
        invalid="Choose the organisation to keep from the list.",
    )
