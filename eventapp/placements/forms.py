from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from ..forms_util import ChoiceField, WholeNumberField


class RunForm(FlaskForm):
    workshop_org_limit = WholeNumberField(
        "At most this many delegates of one organisation in a workshop",
        description="Leave empty for no limit. A limit of 2 or 3 makes every workshop mix organisations.",
        validators=[Optional(), NumberRange(min=1, max=1000, message="Enter a number from 1 to 1,000, or leave it empty.")],
        invalid="Enter the limit as a whole number, e.g. 2, or leave it empty.",
    )


class PlaceMissingForm(FlaskForm):
    seen = HiddenField()  # plan_version of the plan shown: placing a different one is refused


def move_form_class(rounds, choices_by_round):
    """A form with one workshop choice per round, plus 'keep this when re-running'."""

    class MoveForm(FlaskForm):
        pin = BooleanField("Keep these workshops when the allocation is run again (pin)", default=True)

    for rnd in rounds:
        field = ChoiceField(
            rnd.name,
            choices=[SelectChoice("", "— no workshop —")] + [SelectChoice(v, label) for v, label in choices_by_round[rnd.id]],
            validators=[Optional()],
            invalid="Choose a workshop from the list.",
        )
        setattr(MoveForm, f"round_{rnd.id}", field)
    return MoveForm
