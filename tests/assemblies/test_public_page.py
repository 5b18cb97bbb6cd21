"""What the public assembly page shows about the day itself."""
from __future__ import annotations

from tests.factories import make_assembly


def test_an_address_typed_on_several_lines_reads_as_an_address_escaped(client, db):
    # As a browser sends the organiser's textarea: CRLF line ends, a blank line, hostile text.
    assembly = make_assembly(venue_address="High Street\r\n\r\n<b>Shireford</b> SH1 1AA\r\n")
    db.session.commit()
    html = client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    assert "Shireford Guildhall, High Street, &lt;b&gt;Shireford&lt;/b&gt; SH1 1AA</p>" in html
    assert "<b>Shireford" not in html and "\r" not in html
