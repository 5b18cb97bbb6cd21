"""Run axe-core in the page and assert zero WCAG 2.2 A/AA violations.

axe-core comes bundled with the ``axe-playwright-python`` package. The app's CSP
(``script-src 'self'``) blocks inline <script> tags, so instead of add_script_tag the
source is evaluated through Playwright (DevTools evaluation is not subject to the
page's CSP); the app's own policy stays enforced for everything else.
"""
from __future__ import annotations

import importlib.resources
from functools import lru_cache

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@lru_cache(maxsize=1)
def axe_source() -> str:
    return importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']} <{v.get('helpUrl', '')}>")
        for node in v.get("nodes", [])[:10]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {node.get('html', '')[:200]}")
    return "\n".join(lines)


def axe_check(page, context: str = "") -> dict:
    """Assert the page as it is now has no WCAG 2.2 A/AA violations; return axe's results."""
    # A page just navigated to may still be loading its stylesheet: checked unstyled, every link would be
    # "too small" (target-size) and every colour the browser's own.
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    results = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return {violations: r.violations, passes: r.passes.length, incomplete: r.incomplete.length};
        }""",
        WCAG_TAGS,
    )
    where = f"{context or 'page'} ({page.url})"
    assert results["passes"] > 0, f"axe did not run any checks on {where}"
    assert not results["violations"], f"axe found WCAG violations on {where}:\n{_describe(results['violations'])}"
    return results
