from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..forms_util import TextLength
from ..registration.forms import NoControlCharacters, SafeForm
from .models import SCALE
from .services import TEXT_MAX

_SCALE_CHOICES = [SelectChoice(str(value), label) for value, label in SCALE.items()]


def _comment(label: str, hint: str) -> TextAreaField:
    return TextAreaField(label, description=hint, validators=[
        Optional(), TextLength(TEXT_MAX),
        NoControlCharacters(multiline=True)])


class FeedbackForm(SafeForm):
    # The service checks every answer: a refused one comes back with the rest as typed.
    overall = RadioField("How useful was the assembly for your work?", choices=_SCALE_CHOICES, validate_choice=False)
    differently = _comment("What will you do differently as a result?",
                           "Optional. A contact made, a referral route, a change in how your team works.")
    next_time = _comment("What should the next assembly cover, or do differently?", "Optional.")


def feedback_form(workshops, **kwargs) -> FeedbackForm:
    """The form with one question per workshop the delegate can rate (none, before places were published)."""

    class Form(FeedbackForm):
        pass

    for w in workshops:
        setattr(Form, f"workshop_{w.id}", RadioField(
            w.title, choices=[*_SCALE_CHOICES, SelectChoice("", "I did not go, or would rather not say")], default="",
            validate_choice=False))
    form = Form(**kwargs)
    form.workshop_fields = [(w, form[f"workshop_{w.id}"]) for w in workshops]
    return form
