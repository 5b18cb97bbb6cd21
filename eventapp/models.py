"""Every model of every area, imported so the metadata is complete."""
from .accounts.models import ResetRequest, User  # noqa: F401
from .assemblies.models import (  # noqa: F401
    AgendaItem,
    Assembly,
    Round,
    Series,
    Topic,
    Workshop,
    workshop_facilitator,
)
from .organisations.models import Organisation  # noqa: F401
from .mail.models import OutboxMessage  # noqa: F401
from .registration.models import Preference, Registration  # noqa: F401
from .placements.models import AllocationJob, AllocationPin, AllocationRun, Placement  # noqa: F401
from .invites.models import CalendarEntry  # noqa: F401
from .notes.models import Action, ActionRevision, Attendance, NoteSection, NotesRevision, PendingSave, SessionNotes  # noqa: F401
from .outcomes.models import ActionStatusUpdate, AssemblyUpdate, CarriedAction, PartnerContact  # noqa: F401
from .messages.models import AssemblyMessage  # noqa: F401
from .documents.models import Document  # noqa: F401
from .checkin.models import Arrival  # noqa: F401
from .feedback.models import Feedback, WorkshopRating  # noqa: F401
from .audit.models import AuditEvent  # noqa: F401
from .add_once import Submission  # noqa: F401
