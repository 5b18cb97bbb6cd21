"""Demo data: a county Community Safety Assembly with its partners, agenda and workshops."""
from __future__ import annotations

import os
import secrets
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from .accounts.models import User
from .assemblies.models import AgendaItem, Assembly, Round, Workshop
from .assemblies.services import get_or_create_topic
from .extensions import db
from .organisations.models import Organisation, name_key

ORGANISATIONS = [
    ("Shireford Constabulary", "police"),
    ("Office of the Police and Crime Commissioner", "police"),
    ("British Transport Police (Shireford)", "police"),
    ("Shireford County Council", "county_council"),
    ("Shireford County Council Children's Services", "county_council"),
    ("Northvale District Council", "local_authority"),
    ("Eastbrook Borough Council", "local_authority"),
    ("Westmere District Council", "local_authority"),
    ("Southport Borough Council", "local_authority"),
    ("Kingsholme City Council", "local_authority"),
    ("Shireford and Vale NHS Integrated Care Board", "health"),
    ("Shireford University Hospitals NHS Trust", "health"),
    ("Shireford Public Health", "health"),
    ("Shireford Partnership NHS Foundation Trust (Mental Health)", "mental_health"),
    ("Mind in Shireford", "mental_health"),
    ("Victim Support Shireford", "victim_support"),
    ("Shireford Rape Crisis", "victim_support"),
    ("Safer Homes Domestic Abuse Service", "victim_support"),
    ("Shireford Fire and Rescue Service", "fire_rescue"),
    ("Probation Service – Shireford", "probation"),
    ("Shireford Youth Justice Service", "probation"),
    ("Vale Homes Housing Association", "housing"),
    ("Northvale Community Housing", "housing"),
    ("Shireford Homeless Partnership", "housing"),
    ("Shireford College", "education"),
    ("University of Shireford", "education"),
    ("Eastbrook Academy Trust", "education"),
    ("Shireford Community Foundation", "voluntary_community"),
    ("Neighbourhood Watch Shireford", "voluntary_community"),
    ("Shireford Youth Action", "voluntary_community"),
    ("Citizens Advice Shireford", "voluntary_community"),
    ("Shireford Interfaith Forum", "voluntary_community"),
    ("St Giles Trust (Shireford)", "voluntary_community"),
    ("Shireford Street Pastors", "voluntary_community"),
    ("Shireford Business Crime Partnership", "other"),
]

TOPICS = [
    ("Anti-social behaviour", "What works in neighbourhoods, and where partners duplicate effort."),
    ("Poor mental health", "People in crisis who come to police attention: routes to the right help."),
    ("Criminal exploitation", "County lines, cuckooing and the exploitation of children and adults."),
    ("Violence against women and girls", "Safer streets, early help and a joined-up response to abuse."),
    ("Problem-solving approaches to crime prevention", "Using data and partnership to fix causes, not symptoms."),
    ("“Low-level” crime and spotting hidden harm", "Why small reports matter, and what they can reveal."),
    ("Barriers to information sharing", "What stops partners sharing what they know, lawfully and safely."),
    ("Building public confidence", "Being visible, listening and showing what changed."),
]

SLUG = "community-safety-assembly-2027"

AGENDA = [
    (time(9, 0), time(9, 30), "Arrival, registration and coffee", "", None),
    (time(9, 30), time(9, 45), "Welcome and the Community Safety Agreement", "Police and Crime Commissioner",
     "Office of the Police and Crime Commissioner"),
    (time(9, 45), time(10, 15), "Policing priorities for the county", "Chief Constable", "Shireford Constabulary"),
    (time(10, 15), time(10, 45), "Working together: the county council's view", "Director of Public Health",
     "Shireford County Council"),
    (time(12, 15), time(13, 0), "Lunch and networking", "", None),
    (time(15, 15), time(16, 0), "What we heard, and agreeing next steps", "Police and Crime Commissioner",
     "Office of the Police and Crime Commissioner"),
]

ROUNDS = [
    ("Morning breakouts", time(11, 0), time(12, 15), [0, 1, 2, 3, 4]),
    ("Afternoon breakouts", time(13, 45), time(15, 0), [5, 6, 7, 0, 2]),
]
ROOMS = ["Main Hall", "Committee Room 1", "Committee Room 2", "The Library", "Garden Room"]

FACILITATORS = [
    ("Amira Haddad", "amira.haddad@example.org"),
    ("Tom O'Brien", "tom.obrien@example.org"),
    ("Siobhán Kelly", "siobhan.kelly@example.org"),
    ("Kwame Mensah", "kwame.mensah@example.org"),
    ("Zoë Clarke", "zoe.clarke@example.org"),
]
ORGANISER = ("Priya Shah", "organiser@example.org")
RECEPTION = ("Reception Desk", "reception@example.org")


def _password() -> str:
    # Fresh each run unless the operator fixes one (tests do), so no password lives in the repo.
    return os.environ.get("EVENTAPP_DEMO_PASSWORD") or "-".join(secrets.token_urlsafe(6) for _ in range(3))


def _user(name: str, email: str, role: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, role=role)
        db.session.add(user)
    user.set_password(password)
    return user


def load_demo() -> list[str]:
    """Create or refresh the demo data; return lines to print (logins included)."""
    orgs = {}
    for name, sector in ORGANISATIONS:
        org = db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(name)))
        if org is None:
            org = Organisation(name=name, name_key=name_key(name), sector=sector, status="approved")
            db.session.add(org)
        orgs[name] = org
    topics = []
    for name, description in TOPICS:
        topic = get_or_create_topic(name)
        topic.description = topic.description or description
        topics.append(topic)

    logins = []
    password = _password()
    organiser = _user(*ORGANISER, "organiser", password)
    logins.append((organiser.email, "organiser"))
    facilitators = []
    for name, email in FACILITATORS:
        facilitators.append(_user(name, email, "facilitator", password))
        logins.append((email, "facilitator"))
    _user(*RECEPTION, "reception", password)
    logins.append((RECEPTION[1], "reception"))

    assembly = db.session.scalar(select(Assembly).where(Assembly.slug == SLUG))
    if assembly is None:
        today = date.today()
        day = max(date(2027, 3, 18), today + timedelta(days=60))
        assembly = Assembly(
            slug=SLUG,
            title="Shireford Community Safety Assembly 2027",
            summary=(
                "Partners from across the county come together to launch the Community Safety Agreement: "
                "how we work together to support people affected by or at risk of harm, reduce inequality "
                "and strengthen collaboration. The assembly is only the start of these conversations."
            ),
            venue_name="Shireford Guildhall",
            venue_address="Market Square, Shireford SH1 1AA",
            date=day,
            start_time=time(9, 0),
            end_time=time(16, 0),
            timezone="Europe/London",
            registration_opens_at=datetime.combine(today - timedelta(days=7), time(9, 0)),
            registration_closes_at=datetime.combine(day - timedelta(days=7), time(17, 0)),
            capacity=180,
            org_limit=8,
            privacy_notice=(
                "The Office of the Police and Crime Commissioner holds your name, contact details, organisation "
                "and workshop choices to run the assembly and send you updates about it. Access and dietary "
                "needs are shared only with the venue. Personal data is deleted 365 days after the assembly."
            ),
            retention_days=365,
            status="open",
        )
        db.session.add(assembly)
        db.session.flush()
        for start, end, title, speaker, org_name in AGENDA:
            db.session.add(AgendaItem(assembly=assembly, starts_at=start, ends_at=end, title=title,
                                      speaker=speaker, organisation=orgs.get(org_name) if org_name else None))
        for position, (name, start, end, topic_idx) in enumerate(ROUNDS, start=1):
            rnd = Round(assembly=assembly, name=name, position=position, starts_at=start, ends_at=end)
            db.session.add(rnd)
            for i, t in enumerate(topic_idx):
                topic = topics[t]
                db.session.add(Workshop(
                    round=rnd, topic=topic, title=topic.name, description=topic.description,
                    room=ROOMS[i], capacity=32 if i else 40, facilitators=[facilitators[i]],
                ))
    db.session.commit()
    registrations = load_registrations()
    invitations = load_invitations(assembly)
    outcomes = load_outcomes(assembly)

    lines = [
        f"Demo assembly: /a/{SLUG}",
        registrations,
        f"{len(ORGANISATIONS)} organisations, {len(TOPICS)} topics, "
        f"{sum(len(r.workshops) for r in assembly.rounds)} workshops in {len(assembly.rounds)} rounds.",
        "Sign in at /login with (password for every demo account below):",
        f"  password: {password}",
    ]
    lines += [f"  {role:<11} {email}" for email, role in logins]
    lines.append(invitations)
    lines.append(outcomes)
    return lines


def load_invitations(assembly: Assembly) -> str:
    """Queue the calendar invitations the demo delegates are due (none again on a re-run): the Outbox shows them."""
    from .invites.services import registrations_of_assembly, sync_calendar

    queued = sync_calendar(registrations_of_assembly(assembly.id))
    db.session.commit()
    return f"{queued} calendar invitations queued: see the Outbox (/organiser/outbox/)."


def load_outcomes(current: Assembly) -> str:
    """Last year's assembly in the same series, with approved notes, open actions and updates (idempotent)."""
    from .outcomes.demo import load_previous_assembly

    return load_previous_assembly(current)


FIRST_NAMES = ["Aisha", "Ben", "Chloe", "Dev", "Eilidh", "Femi", "Grace", "Hamza", "Isla", "Jamal", "Kasia", "Liam",
               "Mei", "Niamh", "Oluwaseun", "Priya", "Rhys", "Siobhán", "Tomasz", "Zoë", "Yusuf", "Ffion", "Arjun",
               "Bethan", "Carlos", "Dilnoza", "Emeka", "Hannah", "Imran", "Joanne"]
LAST_NAMES = ["Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fitzgerald", "Green", "Hughes", "Iqbal", "Jones",
              "Kowalski", "Li", "Murphy", "Nowak", "O'Brien", "Patel", "Quinn", "Roberts", "Smith", "Thomas",
              "Ní Bhriain", "Okafor", "Williams-Hart", "Yilmaz", "Zhang"]
JOB_TITLES = ["Community safety officer", "Neighbourhood inspector", "Safeguarding lead", "Housing officer",
              "Youth worker", "Public health consultant", "Partnership manager", "Victim services coordinator",
              "Anti-social behaviour caseworker", "Head of service"]
# Topic popularity (demo TOPICS order): VAWG and mental health draw the most first choices.
TOPIC_WEIGHTS = [6, 9, 7, 10, 4, 3, 2, 5]


def load_registrations(confirmed: int = 150, waiting: int = 6, seed: int = 2027) -> str:
    """About 150 confirmed delegates with ranked choices and a few on the waiting list (idempotent, no emails)."""
    import random

    from .registration.models import Preference, Registration, email_key

    assembly = db.session.scalar(select(Assembly).where(Assembly.slug == SLUG))
    if assembly is None:
        return "No demo assembly: registrations not loaded."
    existing = db.session.scalar(select(func.count(Registration.id)).where(Registration.assembly_id == assembly.id))
    if existing:
        return f"{existing} demo registrations already loaded."
    rng = random.Random(seed)
    orgs = list(db.session.scalars(select(Organisation).where(
        Organisation.name_key.in_([name_key(n) for n, _ in ORGANISATIONS])).order_by(Organisation.id)))
    topics_by_name = {t.name: t for r in assembly.rounds for w in r.workshops for t in [w.topic]}
    topics = [topics_by_name[name] for name, _ in TOPICS if name in topics_by_name]
    weights = TOPIC_WEIGHTS[:len(topics)]
    limit = assembly.org_limit or confirmed
    # Big partners (police, councils, health) send more people: they reach the limit first.
    org_weights = [4 if o.sector in ("police", "county_council", "health", "local_authority") else 1 for o in orgs]
    per_org: dict[int, int] = {}

    def ranked_choices() -> list[int]:
        pool, w, picked = list(topics), list(weights), []
        for _ in range(min(len(pool), rng.choice([3, 3, 4, 5]))):
            i = rng.choices(range(len(pool)), weights=w)[0]
            picked.append(pool.pop(i).id)
            w.pop(i)
        return picked

    def person(n: int, org: Organisation, status: str, position: int | None) -> None:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{n}@example.org".lower().replace("'", "").replace(" ", "")
        reg = Registration(
            assembly_id=assembly.id, organisation_id=org.id, full_name=f"{first} {last}", email=email,
            email_key=email_key(email), job_title=rng.choice(JOB_TITLES),
            access_needs=rng.choice(["", "", "", "", "Step-free access", "Hearing loop"]),
            dietary_needs=rng.choice(["", "", "", "Vegetarian", "Vegan", "Halal", "Gluten free"]),
            consent_at=assembly.created_at,
            status=status, waiting_position=position, source="form",
        )
        reg.preferences = [Preference(topic_id=t, rank=i) for i, t in enumerate(ranked_choices(), start=1)]
        db.session.add(reg)

    n = 0
    while n < confirmed:
        org = rng.choices(orgs, weights=org_weights)[0]
        if per_org.get(org.id, 0) >= limit:
            continue
        per_org[org.id] = per_org.get(org.id, 0) + 1
        n += 1
        person(n, org, "confirmed", None)
    full = [o for o in orgs if per_org.get(o.id, 0) >= limit] or orgs[:1]
    for position in range(1, waiting + 1):
        n += 1
        person(n, rng.choice(full), "waiting", position)
    db.session.commit()
    return f"{confirmed} confirmed delegates and {waiting} on the waiting list (organisation limit {limit})."
