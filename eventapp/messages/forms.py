from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..forms_util import DayField, TimeOfDayField
from .services import BODY_MAX


class MessageForm(FlaskForm):
    # The service checks every value, so a refused send keeps what was typed (no length validators here).
    audience = SelectField("Send to", validate_choice=False,
                           description="The number beside each choice is how many people it reaches now. "
                                       "Cancelled registrations are never written to.")
    subject = StringField("Subject")
    body = TextAreaField("Message", description=f"Plain text, up to {BODY_MAX:,} characters. A blank line starts a new paragraph; "
                                                "lines starting \u201c- \u201d or \u201c1. \u201d become a list. "
                                                "Each email starts "
                                                "“Dear” and the delegate’s name, and ends with their personal link "
                                                "to change or cancel their registration.")
    when = RadioField("When to send it", choices=[SelectChoice("now", "As soon as I have checked it"),
                                                  SelectChoice("later", "Later, at the day and time below")],
                      default="now",
                      validate_choice=False)
    send_on = DayField("Day", validators=[Optional()], description="Only when sending later, e.g. 2027-03-11.",
                       invalid="Enter the day as year-month-day, e.g. 2027-03-11.")
    send_time = TimeOfDayField("Time", validators=[Optional()],
                               description="Only when sending later, e.g. 09:00, the assembly's local time. Who it "
                                           "goes to is decided then: people who register or cancel meanwhile count.",
                               invalid="Enter the time as hours and minutes on the 24-hour clock, e.g. 09:00 or 14:30.")
    send_key = HiddenField()

    def set_audiences(self, audiences) -> None:
        """Fill "Send to" with the assembly's audiences (workshops grouped by round), each with its count."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for a in audiences:
            groups.setdefault(a.group or "Delegates", []).append((a.value, f"{a.label} ({a.count:,})"))
        self.audience.choices = groups

    def data_for_service(self) -> dict:
        return {"audience": self.audience.data, "subject": self.subject.data, "body": self.body.data,
                "when": self.when.data, "send_on": self.send_on.data, "send_time": self.send_time.data}
