"""CSV for spreadsheets: export that opens cleanly in Excel, and parsing of an import file."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from ..domain import DomainError

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
IMPORT_COLUMNS = ("full_name", "email", "job_title", "organisation")
MAX_IMPORT_ROWS = 20_000
ROW_KEY = "_row"  # each parsed row's number in the spreadsheet


def csv_cell(value) -> str:
    """A cell value Excel shows as text: formula starters are escaped with a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """UTF-8 CSV text with a byte-order mark so Excel picks the right encoding."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of an uploaded CSV as dicts keyed by lower-case column name, with their row number under ROW_KEY."""
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
    # Excel saves "CSV" with semicolons where the comma is the decimal separator (French,
    # German... regional settings): the column names row tells which one this file uses.
    head = text.partition("\n")[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DomainError("The file is empty.", "file") from None
    except csv.Error:
        raise DomainError("That does not look like a CSV file.", "file") from None
    names = [h.strip().lower().replace(" ", "_") for h in header]
    missing = [c for c in IMPORT_COLUMNS if c not in names]
    if missing:
        raise DomainError(f"The first row must name the columns; missing: {', '.join(missing)}.", "file")
    rows = []
    try:
        # Counted as the spreadsheet counts its rows (blank rows too), so a problem is
        # reported against the row the organiser sees; the first row holds the names.
        for row_number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            row = {name: (values[i] if i < len(values) else "") for i, name in enumerate(names)}
            row[ROW_KEY] = row_number
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise DomainError(f"Import at most {MAX_IMPORT_ROWS:,} rows at a time.", "file")
    except csv.Error:
        raise DomainError("The file could not be read as CSV (check its quotes).", "file") from None
    return rows
