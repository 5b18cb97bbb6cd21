"""The error summary at 320 CSS pixels: each problem's bullet sits beside the first line of its link."""
from __future__ import annotations

import struct
import zlib

from playwright.sync_api import expect

from tests.browser.test_accessibility import _seed_register, narrow_page  # noqa: F401 - fixture


def _pixels(png: bytes) -> list[list[tuple[int, ...]]]:
    """The rows of pixels of an 8-bit RGB or RGBA PNG, as Chromium writes its screenshots (no image library here)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and not interlace, header
    step = 4 if colour == 6 else 3
    raw, stride, rows, previous = zlib.decompress(idat), width * step, [], bytearray(width * step)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, step)])
        previous = line
    return rows


def test_each_bullet_of_the_error_summary_is_beside_the_first_line_of_its_link_at_320px(live_server, narrow_page):
    # A problem whose link wraps had its bullet beside its last line, so the list read as if each
    # bullet began the next problem.
    page = narrow_page
    slug = _seed_register(live_server.app)
    page.goto(live_server.url + f"/a/{slug}/register")
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".error-summary")).to_be_focused()
    summary = page.locator(".error-summary ul")
    shot = _pixels(summary.screenshot(scale="css", animations="disabled"))
    # Each link's lines as drawn (a range's boxes are one per line), relative to the list's box.
    links = page.evaluate("""(ul) => {
        const box = ul.getBoundingClientRect();
        return [...ul.querySelectorAll('li')].map(li => {
            const range = document.createRange();
            range.selectNodeContents(li.querySelector('a'));
            const lines = [...range.getClientRects()].map(r => [r.top - box.top, r.bottom - box.top]);
            const item = li.getBoundingClientRect();
            return {text: li.textContent, lines, top: item.top - box.top, bottom: item.bottom - box.top,
                    left: item.left - box.left};
        });
    }""", summary.element_handle())
    assert max(len(link["lines"]) for link in links) >= 4, links  # the long ones wrap at 320px
    for link in links:
        # The bullet is drawn in the list's padding, left of the item: the rows of the item with ink there.
        inked = [y for y in range(round(link["top"]), min(round(link["bottom"]), len(shot)))
                 if any(min(pixel) < 128 for pixel in shot[y][:int(link["left"]) - 1])]
        assert inked, f"no bullet found beside {link['text']!r}"
        middle = (inked[0] + inked[-1]) / 2
        first_top, first_bottom = link["lines"][0]
        assert first_top <= middle <= first_bottom, (
            f"the bullet of {link['text']!r} is at {middle}px, its first line from {first_top} to {first_bottom}px "
            f"(lines: {link['lines']})")
