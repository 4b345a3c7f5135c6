"""Every page works for the person in front of it (issue 14), proved in Debian's Chromium.

Signs in as every role of the demo agency, visits every page its menu and those pages' links
reach by GET (each URL pattern once per role), and runs axe-core (installed by ``make test``
from npm into tests/axe; nothing is downloaded at run time) with the WCAG 2.0/2.1/2.2 A and AA
rules: at 1280×800 and at 390×844, each in the light and the dark scheme (dark mode follows
the system setting; dispatchers work at night). Each page is loaded once per size and scanned
in both schemes by switching the emulated setting. Any violation fails, and so does a page
that scrolls sideways on the phone. Then a dispatcher with only a keyboard asks for support
for a caller, and an ARO logs a contact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tandem.accounts.models import User
from tandem.core.demo import DEMO_PEOPLE, load_demo, username_for
from tests.browser import browser_page
from tests.conftest import sign_in
from tests.helpers import url_pattern

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light"}
PHONE = {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"}
SCHEMES = ("light", "dark")
# Links that leave the page for a file or end the session are not pages to scan.
NOT_PAGES = (".pdf", ".csv", ".xlsx", ".ics", ".json", ".svg", ".png")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_or_skip() -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test installs it into tests/axe with npm)")


def _reachable(page: Any, base: str) -> dict[str, str]:
    """URL pattern → one path, from the menu and the links of the pages it opens."""
    found: dict[str, str] = {}
    page.goto(f"{base}/")
    queue = ["/"] + [
        urlsplit(h).path
        for h in page.eval_on_selector_all(
            "nav.menu a[href]", "els => els.map(e => e.getAttribute('href'))"
        )
    ]
    for start in list(queue):
        if url_pattern(start) in found:
            continue
        found.setdefault(url_pattern(start) or start, start)
        page.goto(base + start)
        for href in page.eval_on_selector_all(
            "main a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or parts.path.endswith(NOT_PAGES):
                continue
            name = url_pattern(parts.path)
            if name and name not in found:
                found[name] = parts.path + (f"?{parts.query}" if parts.query else "")
    return {k: v for k, v in found.items() if url_pattern(urlsplit(v).path)}


def _scan(page: Any, url: str, *, phone: bool) -> list[str]:
    """Load ``url`` once and scan it in the light and the dark scheme."""
    problems: list[str] = []
    page.emulate_media(color_scheme=SCHEMES[0])
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
        )
        assert result["passes"], f"axe checked nothing on {url}"
        assert page.evaluate(f"matchMedia('(prefers-color-scheme: {scheme})').matches"), (
            url,
            scheme,
        )
        for v in result["violations"]:
            targets = "; ".join(", ".join(n["target"]) for n in v["nodes"][:3])
            where = f"{'phone' if phone else 'desktop'}, {scheme}"
            problems.append(f"{url} [{where}] {v['id']}: {targets}")
    if phone:
        wide = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if wide > 0:
            culprit = page.evaluate(
                "(() => { const w = document.documentElement.clientWidth;"
                " const e = Array.from(document.querySelectorAll('main *')).reverse()"
                ".find(e => e.getBoundingClientRect().right > w);"
                " return e ? e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40)"
                " : ''; })()"
            )
            problems.append(f"{url} [phone] scrolls sideways by {wide}px ({culprit})")
    return problems


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.textContent.trim()"))


def _focused_label(page: Any) -> str:
    return str(
        page.evaluate(
            "(() => { const e = document.activeElement; const l = e.labels && e.labels[0];"
            " return l ? l.textContent.trim().replace(/:$/, '') : ''; })()"
        )
    )


def _tab_to(page: Any, text: str, *, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page) == text:
            return
    raise AssertionError(f"{text!r} cannot be reached with Tab")


def _session(user: User) -> str:
    return sign_in(Client(), user).cookies[settings.SESSION_COOKIE_NAME].value


def test_every_page_of_every_role_passes_axe_at_both_sizes_in_light_and_dark_mode(
    live_server: Any,
) -> None:
    axe_or_skip()
    load_demo()
    base = live_server.url
    problems: list[str] = []
    scanned = 0
    for role in DEMO_PEOPLE:
        user = User.objects.get(username=username_for(role))
        cookie = {"name": settings.SESSION_COOKIE_NAME, "value": _session(user), "url": base}
        pages: dict[str, str] = {}
        for size, phone in ((DESKTOP, False), (PHONE, True)):
            with browser_page(bypass_csp=True, **size) as page:
                page.context.add_cookies([cookie])
                pages = pages or _reachable(page, base)  # the menu is the same at both sizes
                assert len(pages) >= 3, (role, pages)
                scanned += len(pages)
                for path in pages.values():
                    problems += [f"{role}: {p}" for p in _scan(page, base + path, phone=phone)]
    assert not problems, "\n".join(problems)
    assert scanned >= 100, scanned


def test_dispatcher_asks_for_support_for_a_caller_with_the_keyboard_only(
    live_server: Any,
) -> None:
    from tandem.agencies.models import Agency
    from tandem.support.models import SupportRequest

    load_demo()
    agency = Agency.objects.get(slug="demo")
    policy = dict(agency.policy)
    policy["eligibility"] = {
        **policy["eligibility"],
        "channels": [*policy["eligibility"]["channels"], "dispatch"],
    }
    agency.policy = policy
    agency.save(update_fields=["policy"])
    dispatcher = User.objects.get(username=username_for("dispatcher"))
    base = live_server.url
    with browser_page(**PHONE) as page:
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": _session(dispatcher), "url": base}]
        )
        page.goto(f"{base}/")
        page.keyboard.press("Tab")  # the skip link comes first
        assert _focused(page) == "Skip to main content"
        _tab_to(page, "Menu")
        page.keyboard.press("Enter")
        _tab_to(page, "On call now")
        page.keyboard.press("Enter")
        page.wait_for_url("**/support/on-call/**")
        _tab_to(page, "Request support for a caller")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Request support for a caller')")
        page.keyboard.press("Tab")
        fields = {"Name of the caller": "Caller Person", "Phone of the caller": "555 010 0199"}
        for _ in range(40):
            label = _focused_label(page)
            if label in fields:
                page.keyboard.type(fields.pop(label))
            if not fields:
                break
            page.keyboard.press("Tab")
        assert not fields, f"not reached with Tab: {fields}"
        _tab_to(page, "Send request")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=The request was sent to the on-call chain.")
    assert SupportRequest.objects.filter(channel="dispatch").count() == 1


def test_aro_logs_a_contact_with_the_keyboard_only(live_server: Any) -> None:
    from tandem.recovery.models import Client as RecoveryClient
    from tandem.recovery.models import Contact

    load_demo()
    aro = User.objects.get(username=username_for("aro"))
    client = RecoveryClient.objects.filter(agency=aro.agency).order_by("pk").first()
    assert client is not None
    before = Contact.objects.filter(client=client).count()
    base = live_server.url
    with browser_page(**PHONE) as page:
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": _session(aro), "url": base}]
        )
        page.goto(f"{base}/recovery/clients/{client.pk}/")
        _tab_to(page, "Log a contact")
        page.keyboard.press("Enter")
        page.wait_for_selector("main form button[type=submit]")
        for _ in range(60):
            page.keyboard.press("Tab")
            if _focused_label(page) == "Minutes":
                page.keyboard.type("30")
                break
        else:
            raise AssertionError("the Minutes field cannot be reached with Tab")
        _tab_to(page, "Record contact")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=The contact was recorded.")
    assert Contact.objects.filter(client=client).count() == before + 1


def test_the_top_menu_fits_one_row_at_1280_for_every_role_and_its_groups_open_by_keyboard(
    live_server: Any,
) -> None:
    """At desktop width the bar is one row (brand, menu, account menu) for every role, however
    many entries it has: the rest fold under "More". Each disclosure opens with the keyboard,
    and every menu entry stays reachable, on the phone too (inside the folded menu)."""
    from tandem.core.navigation import menu_groups, navigation_for

    load_demo()
    base = live_server.url
    rows = (
        "(() => { const tops = Array.from(document.querySelectorAll("
        "'.topbar .brand, nav.menu > ul > li')).map(e => Math.round("
        "e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));"
        " return Math.max(...tops) - Math.min(...tops); })()"
    )
    with browser_page(**DESKTOP) as page:
        for role in DEMO_PEOPLE:
            user = User.objects.get(username=username_for(role))
            page.context.clear_cookies()
            page.context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": _session(user), "url": base}]
            )
            page.goto(f"{base}/")
            assert page.evaluate(rows) <= 4, f"{role}: the menu wraps at 1280 px"
            topbar = page.eval_on_selector(".topbar", "e => e.getBoundingClientRect().height")
            assert topbar < 80, (role, topbar)
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280, role
            groups = menu_groups(navigation_for(user, "/"))
            assert page.locator("nav.menu a").count() == len(navigation_for(user, "/"))
            if groups["more"]:
                first = groups["more"][0]["label"]
                menu = page.locator("nav.menu")
                assert not menu.get_by_role("link", name=first, exact=True).is_visible()
                page.locator("summary", has_text="More").focus()
                page.keyboard.press("Enter")
                assert menu.get_by_role("link", name=first, exact=True).is_visible()
                page.keyboard.press("Escape")
                assert not menu.get_by_role("link", name=first, exact=True).is_visible()
                assert _focused(page) == "More"
    coordinator = User.objects.get(username=username_for("coordinator"))
    assert menu_groups(navigation_for(coordinator, "/"))["more"], "nothing folded"
    with browser_page(**PHONE) as page:
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": _session(coordinator), "url": base}]
        )
        page.goto(f"{base}/")
        page.keyboard.press("Tab")
        _tab_to(page, "Menu")
        page.keyboard.press("Enter")
        _tab_to(page, "Account")
        page.keyboard.press("Enter")
        _tab_to(page, "Sign out")
        page.keyboard.press("Enter")
        page.wait_for_url("**/accounts/notice/")  # signed out: the use notice before sign-in
        assert not page.locator("nav.menu").count()
