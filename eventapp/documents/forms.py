from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice

from .models import VISIBILITIES
from .services import ACCEPT_ATTRIBUTE, ACCEPTED, MAX_BYTES, TITLE_MAX, human_size

_VISIBILITY_CHOICES = [SelectChoice(value, label) for value, label in VISIBILITIES.items()]


def file_hint(max_bytes: int) -> str:
    return f"{ACCEPTED}, up to {human_size(max_bytes)}. Slides are easiest to read on a phone exported as PDF."


class DocumentForm(FlaskForm):
    # The service checks every value, so a refused upload keeps the title and choice typed.
    file = FileField("File", description=file_hint(MAX_BYTES), render_kw={"accept": ACCEPT_ATTRIBUTE})
    title = StringField("Title", description=f"What the link says, e.g. \u201cAgenda\u201d or \u201cSlides: county "
                                             f"council\u201d. Up to {TITLE_MAX} characters; the file\u2019s name if "
                                             "left empty.")
    visibility = RadioField("Who can see it", choices=_VISIBILITY_CHOICES, default="public", validate_choice=False)
    # An add form's one-time token (eventapp.add_once): sent twice, the file is attached once.
    once = HiddenField()


class DocumentEditForm(FlaskForm):
    title = StringField("Title", description=f"Up to {TITLE_MAX} characters.")
    visibility = RadioField("Who can see it", choices=_VISIBILITY_CHOICES, validate_choice=False)
