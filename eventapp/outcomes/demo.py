"""Demo data for outcomes: last year's assembly with approved notes, open actions (some overdue) and updates."""
from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from ..accounts.models import User
from ..assemblies.models import Assembly, Round, Series, Topic, Workshop
from ..extensions import db
from ..notes import services as notes
from ..organisations.models import Organisation, name_key
from .models import AssemblyUpdate, PartnerContact
from .services import carry_forward

SERIES = "Shireford Community Safety Assembly"
PREVIOUS_SLUG = "community-safety-assembly-2026"

# topic name → (sections, actions). A section is (key, text, internal); an action is
# (description, owner, lead person, due in days from today (negative: overdue), status, internal).
WORKSHOPS = {
    "Anti-social behaviour": (
        [("summary", "Partners agreed that repeat anti-social behaviour in the town centres needs one shared "
                     "case list rather than four separate ones.", False),
         ("working", "- Joint patrols by PCSOs and council wardens on Friday nights\n- The youth outreach bus", False),
         ("not_working", "Residents report the same incident to three bodies and hear back from none.", False),
         ("free_notes", "Named concerns about one housing officer's handling of a case were raised: follow up "
                        "privately, not for publication.", True)],
        [("Set up a single shared case list for repeat ASB victims across the county's districts",
          "Northvale District Council", "Dana Fielding", -45, "in_progress", False),
         ("Publish a one-page 'who to call' guide for residents", "Shireford Constabulary", "Insp. Raj Kaur", 20,
          "open", False),
         ("Review the data-sharing agreement for the ASB case list", "Shireford County Council", "", -10, "open",
          True)]),
    "Poor mental health": (
        [("summary", "Too many people in mental health crisis spend hours in police custody or A&E. Partners "
                     "want a 24/7 crisis line that officers can call from the street.", False),
         ("barriers", "Mental health records cannot be seen by the street triage team at night.", False),
         ("ideas", "Pilot a crisis café in Eastbrook, run with Mind.", False)],
        [("Pilot a 24/7 professional line from officers to the crisis team",
          "Shireford Partnership NHS Foundation Trust (Mental Health)", "Dr Helen Osei", -20, "open", False),
         ("Scope a crisis café in Eastbrook", "Mind in Shireford", "Sam Whitlock", 45, "open", False),
         ("Train 200 frontline officers in mental health first aid", "Shireford Constabulary", "", -60, "done",
          False)]),
    "Violence against women and girls": (
        [("summary", "Partners reviewed the Safer Streets work and agreed to put women's own accounts of "
                     "feeling unsafe at the centre of the next plan.", False),
         ("working", "The Ask for Angela scheme in town-centre venues.", False),
         ("not_working", "Specialist support waiting lists are over twelve weeks.", False),
         ("free_notes", "A survivor's story was shared in confidence: do not publish.", True)],
        [("Run a county-wide survey of where women and girls feel unsafe", "Office of the Police and Crime "
          "Commissioner", "Grace Adeyemi", -5, "in_progress", False),
         ("Extend Ask for Angela to the night-time economy in Southport", "Southport Borough Council", "",
          30, "open", False)]),
    "Barriers to information sharing": (
        [("summary", "Practitioners are unsure what they may lawfully share. A short, plain-English guide "
                     "would help more than another protocol.", False),
         ("barriers", "Different IT systems and fear of breaching data protection law.", False)],
        [("Write a plain-English guide to lawful information sharing between partners", "Shireford County "
          "Council", "Tom Hale", -30, "open", False),
         ("Nominate an information-sharing lead in every partner organisation", "Shireford and Vale NHS "
          "Integrated Care Board", "", 10, "open", False)]),
}

UPDATES = [
    (-200, "Thank you for coming", "More than 120 people from 34 organisations took part in last year's assembly. "
     "The notes of every workshop are below, with the actions partners agreed to."),
    (-90, "Six months on: progress on the actions",
     "Frontline officers have now completed **mental health first aid** training, and the survey of where "
     "women and girls feel unsafe is under way. Some actions are running late: they will be on the table at "
     "this year's assembly."),
]

CONTACTS = [
    ("Shireford Constabulary", "Community safety team", "community.safety@constabulary.example.org"),
    ("Shireford County Council", "Partnerships team", "partnerships@county.example.org"),
    ("Northvale District Council", "ASB team", "asb@northvale.example.org"),
    ("Mind in Shireford", "Services manager", "services@mind-shireford.example.org"),
]


def load_previous_assembly(current: Assembly) -> str:
    """Create last year's assembly in the same series (idempotent) and carry its open actions into ``current``."""
    series = db.session.scalar(select(Series).where(Series.name == SERIES))
    if series is None:
        series = Series(name=SERIES)
        db.session.add(series)
        db.session.flush()
    if current.series_id is None:
        current.series_id = series.id
    organiser = db.session.scalar(select(User).where(User.role == "organiser").order_by(User.id))
    previous = db.session.scalar(select(Assembly).where(Assembly.slug == PREVIOUS_SLUG))
    today = date.today()
    if previous is None:
        day = today - timedelta(days=240)
        previous = Assembly(
            slug=PREVIOUS_SLUG, title="Shireford Community Safety Assembly 2026", series_id=series.id,
            summary="Last year's assembly: the first conversation about the Community Safety Agreement.",
            venue_name="Shireford Guildhall", venue_address="Market Square, Shireford SH1 1AA", date=day,
            start_time=time(9, 0), end_time=time(16, 0), timezone="Europe/London", capacity=150,
            retention_days=365, status="archived")
        db.session.add(previous)
        rnd = Round(assembly=previous, name="Breakouts", position=1, starts_at=time(11, 0), ends_at=time(12, 15))
        db.session.add(rnd)
        facilitators = list(db.session.scalars(select(User).where(User.role == "facilitator").order_by(User.id)))
        workshops = []
        for i, topic_name in enumerate(WORKSHOPS):
            topic = db.session.scalar(select(Topic).where(Topic.name_key == name_key(topic_name)))
            w = Workshop(round=rnd, topic=topic, title=topic.name, description=topic.description,
                         room=f"Room {i + 1}", capacity=30,
                         facilitators=[facilitators[i % len(facilitators)]] if facilitators else [])
            db.session.add(w)
            workshops.append(w)
        for days, title, body in UPDATES:
            db.session.add(AssemblyUpdate(assembly=previous, title=title, body=body,
                                          published_on=max(day + timedelta(days=1), today + timedelta(days=days))))
        db.session.commit()
        user_id = organiser.id if organiser else None
        for w in workshops:
            sections, actions = WORKSHOPS[w.topic.name]
            data = {}
            for key, text, internal in sections:
                data[key], data[f"{key}_internal"] = text, internal
            saved, _ = notes.save_notes(w, data, 0, user_id, submit=True)
            ids = []
            for description, owner, lead, due_in, status, internal in actions:
                org = db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(owner)))
                action = notes.add_action(w, {"description": description, "owner_organisation_id": org.id,
                                              "lead_person": lead, "due_date": today + timedelta(days=due_in),
                                              "status": status, "internal": internal, "topic_ids": [w.topic_id]},
                                          user_id)
                ids.append(action.id)
            notes.approve_notes(saved, [k for k, _, internal in sections if not internal], ids, user_id)
    for org_name, contact_name, email in CONTACTS:
        org = db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(org_name)))
        if org is not None and db.session.get(PartnerContact, org.id) is None:
            db.session.add(PartnerContact(organisation_id=org.id, contact_name=contact_name, contact_email=email))
    db.session.commit()
    carried = carry_forward(current, None, organiser.id if organiser else None)
    return (f"Previous assembly: /a/{PREVIOUS_SLUG}/updates ({carried} open actions newly carried into "
            f"/a/{current.slug}); action tracker at /organiser/tracker.")
