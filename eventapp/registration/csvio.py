"""CSV for spreadsheets: export that opens cleanly in Excel, and parsing of an import file."""
from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import date
from typing import Iterable
from urllib.parse import quote

from flask import Response

from ..domain import DomainError

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection), spaces
# before it or not (" =1+1" is one to Excel), and the full-width forms too.
FORMULA_CHARS = "=+-@\uff1d\uff0b\uff0d\uff20"
# A cell starting with one of these is escaped whatever follows.
FORMULA_STARTS = ("\t", "\r", "\n")
IMPORT_COLUMNS = ("full_name", "email", "job_title", "organisation")
MAX_IMPORT_ROWS = 20_000
ROW_KEY = "_row"  # each parsed row's number in the spreadsheet
OPTIONAL_COLUMNS = ("access_needs", "dietary_needs")
MAX_CHOICES = 10
# Excel saves "CSV" with semicolons where the comma is the decimal separator (French, German...
# regional settings), and "Text (Tab delimited)" with tabs; the column names row tells which.
DELIMITERS = (",", ";", "\t")
# A title, a date or a blank row or two above the column names is common in a list kept by hand.
HEADER_SEARCH_ROWS = 5
# Spreadsheets kept by partners name their columns in their own words: these spellings (compared
# with case, spaces, hyphens, underscores and other punctuation left out) mean the import's columns.
COLUMN_ALIASES = {
    "full_name": ("fullname", "name", "delegatename", "delegate", "delegatefullname", "attendeename", "attendee",
                  "participantname", "participant", "personname", "yourname"),
    "email": ("email", "emailaddress", "mail", "workemail", "workemailaddress", "delegateemail",
              "delegateemailaddress", "emailaddr"),
    "job_title": ("jobtitle", "role", "jobrole", "position", "jobposition", "roletitle", "designation"),
    "organisation": ("organisation", "organization", "organisationname", "organizationname", "org", "orgname",
                     "partnerorganisation", "partnerorganization", "agency", "employer", "company"),
    "access_needs": ("accessneeds", "accessibilityneeds", "access", "accessibility", "accessrequirements",
                     "accessibilityrequirements"),
    "dietary_needs": ("dietaryneeds", "dietary", "diet", "dietaryrequirements", "dietaryrequirement",
                      "dietaryrequests"),
}
_ALIAS_TO_COLUMN = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
# One cell naming every choice in rank order, "; " between them, as the registrations export writes them.
CHOICES = "choices"
_ALIAS_TO_COLUMN.update({alias: CHOICES for alias in ("choices", "choicesinrankorder", "workshopchoices",
                                                      "topicchoices", "preferences")})
# The registration's status, as the registrations export writes it ("Confirmed", "Waiting list", "Cancelled"): an
# import reads it only to leave out the cancelled (capacity decides who is confirmed, not last year's file).
STATUS = "status"
_ALIAS_TO_COLUMN.update({alias: STATUS for alias in ("status", "registrationstatus", "bookingstatus")})
# A status cell meaning cancelled (compared as column names are: case, spaces and punctuation left out).
CANCELLED_STATUSES = frozenset({"cancelled", "canceled", "registrationcancelled", "registrationcanceled"})
_CHOICE = re.compile(r"(?:workshop|topic)?(?:choice|preference)(\d+)")
_EXPECTED = ("full_name (or “Name”), email (or “Email address”), job_title (or “Job title”, “Role”), "
             "organisation (or “Organization”); optional: access_needs, dietary_needs, "
             f"choice_1 to choice_{MAX_CHOICES}, status (rows “Cancelled” are left out)")


def csv_cell(value) -> str:
    """A cell value Excel shows as text: formula starters are escaped with a leading apostrophe."""
    text = "" if value is None else str(value)
    first = text.lstrip()[:1]
    return "'" + text if text.startswith(FORMULA_STARTS) or (first and first in FORMULA_CHARS) else text


def to_csv(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """UTF-8 CSV text with a byte-order mark so Excel picks the right encoding."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def download_name(*parts: str, on: date) -> str:
    """A download's file name: its words (the kind of list, the assembly's slug, the filters applied) and the
    day it was taken, in lower-case ASCII letters, digits and hyphens: "registrations-csa-2027-waiting-2027-03-01.csv"."""
    words = [re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts if p]
    return "-".join([w for w in words if w] + [on.isoformat()]) + ".csv"


def csv_response(body: str, filename: str) -> Response:
    """A CSV download: UTF-8 bytes (the body starts with its byte-order mark), never kept by a cache, saved
    under filename (quoted, and as RFC 5987's filename* for browsers that read that one first)."""
    plain = re.sub(r'[^A-Za-z0-9._-]+', "-", filename)
    return Response(body.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "Cache-Control": "no-store",
    })


def column_for(name: str) -> str | None:
    """The import column a header cell names ("E-mail address" is email), or None when it is not one of them."""
    key = re.sub(r"[\W_]+", "", name.casefold())
    if key in _ALIAS_TO_COLUMN:
        return _ALIAS_TO_COLUMN[key]
    choice = _CHOICE.fullmatch(key)
    if choice and 1 <= int(choice.group(1)) <= MAX_CHOICES:
        return f"choice_{int(choice.group(1))}"
    return None


def is_cancelled_status(value: str | None) -> bool:
    """Whether a Status cell says the registration was cancelled ("Cancelled" as the export writes it, any case)."""
    return re.sub(r"[\W_]+", "", (value or "").casefold()) in CANCELLED_STATUSES


def _quoted_list(names: list[str], most: int = 12) -> str:
    shown = [f"“{n if len(n) <= 40 else n[:39] + '…'}”" for n in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown) + more


def _column_letter(index: int) -> str:
    """The spreadsheet's name of a column: A for the first, Z, AA, AB..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _find_header(text: str) -> tuple[str, int]:
    """The delimiter, and the index of the row naming the columns (0 unless rows above it hold a title)."""
    best = None  # (row index, -columns recognised, delimiter): the earliest row, then the most columns
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            for index, values in enumerate(itertools.islice(reader, HEADER_SEARCH_ROWS)):
                known = len({column_for(v) for v in values} - {None})
                if known >= 2:
                    best = min(best or (index, -known, delimiter), (index, -known, delimiter))
                    break
        except csv.Error:
            continue
    if best is not None:
        return best[2], best[0]
    # No row names two columns: the first row is taken as the names, to say which are missing.
    head = text.partition("\n")[0]
    return max(DELIMITERS, key=head.count), 0


def _unescaped(value: str) -> str:
    """A cell as it was before an export escaped it: "'=x" (csv_cell's work) is "=x" again, so a file downloaded
    from here imports what it holds. An apostrophe before anything else is the person's own."""
    return value[1:] if value.startswith("'") and csv_cell(value[1:]) == value else value


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of an uploaded CSV as dicts keyed by import column (others left out), with their row number under ROW_KEY."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves plain "CSV (Comma delimited)" in the Windows code page: accented names
        # (Siobhán, Zoë) are then not UTF-8. A NUL byte means UTF-16 ("Unicode Text"), which this is not.
        try:
            if b"\x00" in data:
                raise UnicodeDecodeError("cp1252", data, 0, 1, "NUL byte")
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise DomainError("Save the file as “CSV UTF-8” and upload it again.", "file") from None
    if "\x00" in text:
        raise DomainError("That does not look like a CSV file.", "file")
    delimiter, header_at = _find_header(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        above = [next(reader) for _ in range(header_at)]
        header = next(reader)
    except StopIteration:
        raise DomainError("The file is empty.", "file") from None
    except csv.Error:
        raise DomainError("That does not look like a CSV file.", "file") from None
    # Rows above the column names holding one cell at most (a title, a date) are skipped: no
    # delegate fits in one cell. More than that may be people, who must not be left out unseen.
    for number, values in enumerate(above, start=1):
        if sum(1 for v in values if v.strip()) > 1:
            raise DomainError(f"Row {header_at + 1} holds the column names, but row {number} above it is not a "
                              "title: delete the rows above the column names (or move the people in them below) "
                              "and upload again.", "file")
    names = [column_for(h) for h in header]
    # Read by name, the last of two columns would silently win over the first (an empty second
    # "Email" would refuse every row): the organiser decides which one is meant.
    first_at: dict[str, int] = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        if name in first_at:
            j = first_at[name]
            raise DomainError(f"Two columns are read as {name}: “{header[j].strip()}” (column {_column_letter(j)}) "
                              f"and “{header[i].strip()}” (column {_column_letter(i)}). Delete or rename one of "
                              "them and upload again.", "file")
        first_at[name] = i
    if CHOICES in first_at and any(n and n.startswith("choice_") for n in names):
        raise DomainError(f"Both “{header[first_at[CHOICES]].strip()}” and one column per choice give the choices: "
                          "delete one of them and upload again.", "file")
    missing = [c for c in IMPORT_COLUMNS if c not in names]
    if missing:
        written = [h.strip() for h in header if h.strip()]
        found = f"It has {_quoted_list(written)}" if written else "It has no column names"
        where = "The first row must name the columns" if header_at == 0 else f"Row {header_at + 1} names the columns"
        raise DomainError(f"{where}; missing: {', '.join(missing)}. {found}. "
                          f"Expected: {_EXPECTED}.", "file")
    rows = []
    try:
        # Counted as the spreadsheet counts its rows (blank rows too), so a problem is
        # reported against the row the organiser sees; the row header_at + 1 holds the names.
        for row_number, values in enumerate(reader, start=header_at + 2):
            if not any(v.strip() for v in values):
                continue
            row = {name: _unescaped(values[i]) if i < len(values) else "" for i, name in enumerate(names) if name}
            if CHOICES in row:
                given = [c.strip() for c in row.pop(CHOICES).split(";") if c.strip()]
                row.update({f"choice_{n}": c for n, c in enumerate(given[:MAX_CHOICES], start=1)})
            row[ROW_KEY] = row_number
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise DomainError(f"Import at most {MAX_IMPORT_ROWS:,} rows at a time.", "file")
    except csv.Error:
        raise DomainError("The file could not be read as CSV (check its quotes).", "file") from None
    return rows
