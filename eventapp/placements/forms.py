from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional


class RunForm(FlaskForm):
    workshop_org_limit = IntegerField(
        "At most this many delegates of one organisation in a workshop",
        description="Leave empty for no limit. A limit of 2 or 3 makes every workshop mix organisations.",
        validators=[Optional(), NumberRange(min=1, max=1000, message="Enter a number of at least 1, or leave it empty.")],
    )


class PlaceMissingForm(FlaskForm):
    seen = HiddenField()  # plan_version of the plan shown: placing a different one is refused


def move_form_class(rounds, choices_by_round):
    """A form with one workshop choice per round, plus 'keep this when re-running'."""

    class MoveForm(FlaskForm):
        pin = BooleanField("Keep these workshops when the allocation is run again (pin)", default=True)

    for rnd in rounds:
        field = SelectField(
            rnd.name,
            choices=[SelectChoice("", "— no workshop —")] + [SelectChoice(v, label) for v, label in choices_by_round[rnd.id]],
            validators=[Optional()],
        )
        setattr(MoveForm, f"round_{rnd.id}", field)
    return MoveForm
