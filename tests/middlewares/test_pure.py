"""The pure parts: delay law, Retry-After, retry budget, masking, proxy lists, profiles, bans."""

from __future__ import annotations

import json
from email.utils import formatdate
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError
from scrapy.http import HtmlResponse
from scrapy.settings import Settings

from booksscraper.config.errors import BadConfig
from booksscraper.middlewares.backoff import (
    RetryBudget,
    failure_reason,
    full_jitter_delay,
    parse_retry_after,
)
from booksscraper.middlewares.bans import BanPolicy
from booksscraper.middlewares.useragent import (
    DEFAULT_PROFILES_FILE,
    decodable_encodings,
    load_profiles,
    profile_problems,
)
from booksscraper.proxies.sources import configured_proxies, parse_proxy_url
from booksscraper.records.credentials import mask_credentials, mask_proxy, proxy_key
from booksscraper.sandbox import BLOCKED_PAGE
from booksscraper.tools.browser_profiles import chromium_brands


def upper_bound(attempt: int, base: float, cap: float) -> float:
    return full_jitter_delay(attempt, base, cap, rand=lambda low, high: high)


def test_delay_window_doubles_per_attempt_up_to_the_cap() -> None:
    assert [upper_bound(n, 0.5, 30) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert upper_bound(5000, 0.5, 30) == 30  # no float overflow on absurd attempt counts
    assert full_jitter_delay(3, 0.5, 30, rand=lambda low, high: low) == 0


def test_delay_is_spread_over_the_whole_window() -> None:
    delays = [full_jitter_delay(2, 1.0, 60) for _ in range(2000)]
    assert all(0 <= d <= 4 for d in delays)
    assert min(delays) < 0.5 and max(delays) > 3.5  # full jitter, not a fixed value


def test_zero_base_means_no_delay() -> None:
    assert full_jitter_delay(4, 0, 30) == 0


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90)
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0  # in the past


@pytest.mark.parametrize("value", [None, b"", b"soon", b"-5", b"1.5e3", b"Mon, 99 Foo 2020"])
def test_retry_after_garbage_is_ignored(value: bytes | None) -> None:
    assert parse_retry_after(value) is None


def test_retry_budget_caps_retries_at_a_share_of_recent_requests() -> None:
    clock = [0.0]
    budget = RetryBudget(ratio=0.2, minimum=2, window=10, clock=lambda: clock[0])
    for _ in range(20):
        budget.record_request()
    granted = sum(budget.try_spend() for _ in range(10))
    assert granted == 4  # 20% of 20 requests
    clock[0] = 5.0
    assert not budget.try_spend()
    clock[0] = 10.5  # the window slid past every request and retry: only the minimum is left
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]


def test_retry_budget_always_allows_the_minimum() -> None:
    budget = RetryBudget(ratio=0.0, minimum=3, window=60)
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]


def test_failure_reasons_are_short_names() -> None:
    assert failure_reason(DownloadTimeoutError("x")) == "timeout"
    assert failure_reason(DownloadConnectionRefusedError("x")) == "connection_refused"
    assert failure_reason(KeyError("x")) == "KeyError"


def test_masking_hides_passwords_everywhere() -> None:
    assert mask_proxy("http://bob:hunter2@10.0.0.1:3128") == "http://bob:***@10.0.0.1:3128"
    assert mask_proxy("http://10.0.0.1:3128") == "http://10.0.0.1:3128"
    text = "failed via https://a:p%40ss@h:1 and http://c:d@e:2/x"
    masked = mask_credentials(text)
    assert "p%40ss" not in masked and ":d@" not in masked
    assert masked == "failed via https://a:***@h:1 and http://c:***@e:2/x"


def test_proxy_key_is_scheme_host_port_without_credentials() -> None:
    assert proxy_key("http://u:p@127.0.0.1:8001") == "http://127.0.0.1:8001"
    assert proxy_key("http://127.0.0.1:8002") == "http://127.0.0.1:8002"
    assert proxy_key("https://proxy.example") == "https://proxy.example:443"


@pytest.mark.parametrize(
    "bad", ["http://host", "ftp://h:1", "http://:8080", "http://h:99999", "http://h:1/path"]
)
def test_malformed_proxy_urls_are_refused_with_the_setting_name(bad: str) -> None:
    with pytest.raises(BadConfig, match=r"^ROTATING_PROXY_LIST: malformed proxy URL"):
        parse_proxy_url(bad, "ROTATING_PROXY_LIST")


def test_malformed_proxy_url_message_masks_the_password() -> None:
    with pytest.raises(BadConfig) as info:
        parse_proxy_url("http://bob:hunter2@host:notaport", "BOOKS_PROXIES")
    assert "hunter2" not in str(info.value) and "bob:***@" in str(info.value)


def test_proxies_from_file_then_setting_then_environment(tmp_path: Path) -> None:
    listing = tmp_path / "proxies.txt"
    listing.write_text("# pool A\n127.0.0.1:8001\n\nhttp://u:p@127.0.0.1:8002\n127.0.0.1:8001\n")
    env = {"BOOKS_PROXIES": "127.0.0.1:9001, 127.0.0.1:9002"}
    both = Settings({"ROTATING_PROXY_LIST_PATH": str(listing), "ROTATING_PROXY_LIST": ["h:1"]})
    assert configured_proxies(both, env) == ["http://127.0.0.1:8001", "http://u:p@127.0.0.1:8002"]
    assert configured_proxies(Settings({"ROTATING_PROXY_LIST": "h:1,h:2"}), env) == [
        "http://h:1",
        "http://h:2",
    ]
    assert configured_proxies(Settings(), env) == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    assert configured_proxies(Settings(), {}) == []


def test_unreadable_or_empty_proxy_file_is_bad_config(tmp_path: Path) -> None:
    missing = Settings({"ROTATING_PROXY_LIST_PATH": str(tmp_path / "nope.txt")})
    with pytest.raises(BadConfig, match=r"^ROTATING_PROXY_LIST_PATH: cannot read"):
        configured_proxies(missing, {})
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    with pytest.raises(BadConfig, match=r"^ROTATING_PROXY_LIST_PATH: .* lists no proxies"):
        configured_proxies(Settings({"ROTATING_PROXY_LIST_PATH": str(empty)}), {})


def test_shipped_profiles_never_contradict_their_user_agent() -> None:
    profiles = load_profiles(DEFAULT_PROFILES_FILE)
    assert len(profiles) >= 10
    assert {p.family for p in profiles} >= {"chrome", "edge", "firefox", "safari"}
    assert any("Mobile" in p.headers["User-Agent"] for p in profiles)
    for p in profiles:
        assert profile_problems(p.family, p.headers) == [], p.name
        assert {"Accept", "Accept-Language", "Accept-Encoding"} <= set(p.headers), p.name
        assert p.headers["Sec-Fetch-Site"] == "none", p.name  # a typed-in address
        codings = {c.strip() for c in p.headers["Accept-Encoding"].split(",")}
        assert codings <= decodable_encodings(), p.name
        if p.family in ("chrome", "edge"):  # the brand list Chromium derives from its version
            major = int(p.headers["User-Agent"].split("Chrome/")[1].split(".")[0])
            brand = "Microsoft Edge" if p.family == "edge" else "Google Chrome"
            assert p.headers["Sec-CH-UA"] == chromium_brands(brand, major), p.name
    # Current for 2026: Chromium 142+, Firefox 145+, Safari 26+.
    versions = {p.family: p.name.split("-")[1] for p in profiles}
    assert int(versions["chrome"]) >= 142 and int(versions["edge"]) >= 142
    assert int(versions["firefox"]) >= 145 and int(versions["safari"]) >= 26


def test_chromium_brands_match_what_real_browsers_sent() -> None:
    # Chrome 131 as captured for the first profiles file; Chrome 147 as in
    # browserforge 1.2.4's header model (apify_fingerprint_datapoints 0.15.0).
    assert chromium_brands("Google Chrome", 131) == (
        '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
    )
    assert chromium_brands("Microsoft Edge", 147) == (
        '"Microsoft Edge";v="147", "Not.A/Brand";v="8", "Chromium";v="147"'
    )


CHROME_WINDOWS = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/146.0.0.0 Safari/537.36",
    "Sec-CH-UA": chromium_brands("Google Chrome", 146),
    "Sec-CH-UA-Mobile": "?0",
    "Sec-CH-UA-Platform": '"Windows"',
}
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:149.0) Gecko/20100101 Firefox/149.0"


@pytest.mark.parametrize(
    ("family", "changes", "problem"),
    [
        ("chrome", {}, None),
        ("chrome", {"Sec-CH-UA": chromium_brands("Google Chrome", 131)}, "lacks"),
        ("chrome", {"Sec-CH-UA-Platform": '"macOS"'}, 'should be "Windows"'),
        ("chrome", {"Sec-CH-UA-Mobile": "?1"}, "Sec-CH-UA-Mobile should be ?0"),
        ("chrome", {"Sec-CH-UA-Mobile": None}, "without all of"),
        ("edge", {}, "family 'edge' but the User-Agent is chrome's"),
        ("firefox", {"User-Agent": FIREFOX_UA}, "which only Chromium browsers send"),
        ("chrome", {"User-Agent": "curl/8.0"}, "no browser and version recognised"),
    ],
)
def test_profile_problems_catch_a_contradiction(
    family: str, changes: dict[str, str | None], problem: str | None
) -> None:
    headers = {**CHROME_WINDOWS, **changes}
    problems = profile_problems(family, {k: v for k, v in headers.items() if v is not None})
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_profiles_file_checks(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"profiles": []}))
    with pytest.raises(BadConfig, match=r"^USER_AGENT_PROFILES_FILE: .* has no profiles"):
        load_profiles(empty)
    firefox_with_hints = tmp_path / "ff.json"
    firefox_with_hints.write_text(
        json.dumps(
            {
                "profiles": [
                    {
                        "name": "ff",
                        "family": "firefox",
                        "headers": {"User-Agent": FIREFOX_UA, "Sec-CH-UA": "x"},
                    }
                ]
            }
        )
    )
    with pytest.raises(BadConfig, match=r"profile 0 \(ff\) in .*only Chromium"):
        load_profiles(firefox_with_hints)
    with pytest.raises(BadConfig, match=r"^USER_AGENT_PROFILES_FILE: cannot read"):
        load_profiles(tmp_path / "missing.json")


def page(
    status: int, body: bytes, url: str = "http://site/catalogue/a_1/index.html"
) -> HtmlResponse:
    return HtmlResponse(url, status=status, body=body, request=Request(url))


def test_ban_policy_fitted_to_the_site() -> None:
    policy = BanPolicy({403}, [b"SANDBOX-BLOCKED"])
    req = Request("http://site/catalogue/a_1/index.html")
    assert policy.response_is_ban(req, page(403, b"<html>no</html>")) is True
    assert policy.response_is_ban(req, page(200, BLOCKED_PAGE)) is True
    assert policy.response_is_ban(req, page(200, b"<html>a book</html>")) is False
    # The site throttling everyone is not a ban of this proxy.
    assert policy.response_is_ban(req, page(429, b"slow down")) is False
    assert policy.response_is_ban(req, page(503, b"busy")) is False
    assert policy.response_is_ban(req, page(404, b"gone")) is False
    assert policy.response_is_ban(req, page(502, b"bad gateway")) is None
    robots = Request("http://site/robots.txt")
    assert policy.response_is_ban(robots, page(200, b"", "http://site/robots.txt")) is False
    assert policy.exception_is_ban(req, DownloadConnectionRefusedError("x")) is True
    assert policy.exception_is_ban(req, DownloadTimeoutError("x")) is None


def test_empty_pages_ban_a_proxy_only_when_they_repeat() -> None:
    policy = BanPolicy({403}, [], empty_strikes=2)
    via_a = Request("http://site/catalogue/a_1/index.html", meta={"proxy": "http://p:1"})
    via_b = Request("http://site/catalogue/a_1/index.html", meta={"proxy": "http://p:2"})
    assert policy.assess(via_a, page(200, b"")) == (None, None)  # the site's hiccup, maybe
    assert policy.assess(via_b, page(200, b"")) == (None, None)
    assert policy.assess(via_b, page(200, b"<html>a book</html>")) == (False, None)
    assert policy.assess(via_b, page(200, b"")) == (None, None)  # streak broken by a real page
    assert policy.assess(via_a, page(200, b"")) == (True, "empty")
    assert BanPolicy({403}, [], empty_strikes=1).assess(via_a, page(200, b"")) == (True, "empty")
