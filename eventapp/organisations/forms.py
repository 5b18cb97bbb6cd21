from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from .models import SECTORS, STATUSES


class OrganisationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the organisation's name."), Length(max=200)])
    sector = SelectField("Sector", choices=[SelectChoice(k, v) for k, v in SECTORS.items()])
    status = SelectField("Status", choices=[SelectChoice(k, v) for k, v in STATUSES.items()])


class MergeForm(FlaskForm):
    target_id = SelectField(
        "Merge into",
        coerce=int,
        description="Everything recorded against this organisation moves to the one you choose, and this one is removed.",
        validators=[InputRequired("Choose the organisation to keep.")],
    )
