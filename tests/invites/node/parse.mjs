// Parse iCalendar objects with Mozilla's ical.js (independent of Python's icalendar).
// stdin: a JSON array of .ics strings. stdout: a JSON array, one summary per object,
// or {"error": ...} for an object ical.js refuses.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const inputs = JSON.parse(Buffer.concat(chunks).toString("utf8"));

function params(prop) {
  if (!prop) return null;
  const out = {};
  for (const [k, v] of Object.entries(prop.jCal[1])) out[k.toUpperCase()] = v;
  return { value: prop.getFirstValue(), params: out };
}

const results = inputs.map((text) => {
  try {
    const vcal = new ICAL.Component(ICAL.parse(text));
    const events = vcal.getAllSubcomponents("vevent").map((ve) => {
      const ev = new ICAL.Event(ve);
      return {
        uid: ev.uid,
        sequence: ev.sequence,
        summary: ev.summary,
        location: ev.location,
        status: ve.getFirstPropertyValue("status"),
        dtstart: ev.startDate.toJSDate().toISOString(),
        dtend: ev.endDate.toJSDate().toISOString(),
        dtstamp: ve.getFirstPropertyValue("dtstamp").toJSDate().toISOString(),
        organizer: ve.getAllProperties("organizer").map(params),
        attendees: ve.getAllProperties("attendee").map(params),
        propertyNames: ve.getAllProperties().map((p) => p.name),
      };
    });
    return {
      method: vcal.getFirstPropertyValue("method"),
      version: vcal.getFirstPropertyValue("version"),
      prodid: vcal.getFirstPropertyValue("prodid"),
      events,
    };
  } catch (err) {
    return { error: String(err) };
  }
});
process.stdout.write(JSON.stringify(results));
