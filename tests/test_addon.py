"""What the BooksStack add-on changes, pinned: components, Scrapy settings, nothing else."""

from __future__ import annotations

import subprocess
import sys

from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from booksscraper.addon import REMOTE_CONTROL, BooksStack
from booksscraper.config.declared import DECLARED, SETTINGS
from tests.helpers import REPO


def changes(settings: Settings) -> dict[str, tuple[object, str | None]]:
    """What the add-on does to ``settings``: name -> (new value, priority)."""
    before = {name: value for name, value in settings.items()}
    BooksStack().update_settings(settings)
    changed = {}
    for name, value in settings.items():
        if before.get(name) != value:
            changed[name] = (value, None)
    for name in ("DOWNLOADER", "DUPEFILTER_CLASS", "LOG_FORMATTER", "RETRY_TIMES"):
        changed[name] = (settings[name], settings.getpriority(name))
    return changed


def component_paths(settings: Settings, name: str) -> dict[str, int | None]:
    return {
        (path if isinstance(path, str) else f"{path.__module__}.{path.__qualname__}"): order
        for path, order in settings.getdict(name).items()
    }


def test_the_scrapy_settings_it_changes_at_addon_priority() -> None:
    settings = Settings()
    changed = changes(settings)
    addon = 15  # SETTINGS_PRIORITIES["addon"]
    assert {name: value for name, value in changed.items() if value[1] is not None} == {
        "DOWNLOADER": ("booksscraper.pacing.downloader.PerSlotLimitDownloader", addon),
        "DUPEFILTER_CLASS": ("booksscraper.dedup.dupefilter.CompactDupeFilter", addon),
        "LOG_FORMATTER": ("booksscraper.records.droplog.OneLineDrops", addon),
        "RETRY_TIMES": (6, addon),
    }
    assert set(changed) - set(DECLARED) == {
        "DOWNLOADER", "DUPEFILTER_CLASS", "LOG_FORMATTER", "RETRY_TIMES",
        "DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES", "EXTENSIONS",
    }


def test_every_declared_default_at_addon_priority_unless_already_set() -> None:
    settings = Settings()
    settings.set("OUTPUT_ENABLED", False, "command")  # what `scrapy parse` sets
    BooksStack().update_settings(settings)
    for setting in SETTINGS:
        if setting.name == "OUTPUT_ENABLED":
            continue
        assert settings.getpriority(setting.name) == 15, setting.name
        assert settings[setting.name] == setting.default
    assert settings["OUTPUT_ENABLED"] is False


def enabled(settings: Settings, name: str) -> list[str]:
    """The components a crawl would load, in order (what Scrapy's managers build)."""
    return [
        path if isinstance(path, str) else f"{path.__module__}.{path.__qualname__}"
        for path in build_component_list(settings.get_component_priority_dict_with_base(name))
    ]


SCRAPY_RETRY = "scrapy.downloadermiddlewares.retry.RetryMiddleware"
SCRAPY_UA = "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware"
OUR_RETRY = "booksscraper.middlewares.retry.BackoffRetryMiddleware"
OUR_UA = "booksscraper.middlewares.useragent.UserAgentMiddleware"


def test_every_component_it_names_is_enabled_and_loads() -> None:
    settings = Settings()
    BooksStack().update_settings(settings)
    for name in ("DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES", "EXTENSIONS"):
        loaded = enabled(settings, name)
        ours = [path for path in loaded if path.startswith("booksscraper.")]
        assert ours, name
        for path in ours:
            assert load_object(path)
    middlewares = enabled(settings, "DOWNLOADER_MIDDLEWARES")
    assert OUR_RETRY in middlewares and OUR_UA in middlewares
    assert SCRAPY_RETRY not in middlewares and SCRAPY_UA not in middlewares


def test_our_retry_takes_the_place_of_scrapy_s() -> None:
    base = Settings().getdict("DOWNLOADER_MIDDLEWARES_BASE")
    settings = Settings()
    BooksStack().update_settings(settings)
    orders = settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
    ours = load_object(OUR_RETRY)
    retry = next(order for key, order in orders.items() if load_object(key) is ours)
    assert retry == base[SCRAPY_RETRY]


def test_a_project_that_turns_ours_off_keeps_scrapy_s_retry(caplog) -> None:
    settings = Settings()
    settings.set("DOWNLOADER_MIDDLEWARES", {OUR_RETRY: None, SCRAPY_RETRY: 560}, "project")
    BooksStack().update_settings(settings)
    middlewares = enabled(settings, "DOWNLOADER_MIDDLEWARES")
    assert SCRAPY_RETRY in middlewares and OUR_RETRY not in middlewares
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_project_s_own_placing_of_scrapy_s_retry_is_replaced_with_a_warning(caplog) -> None:
    settings = Settings()
    settings.set("DOWNLOADER_MIDDLEWARES", {SCRAPY_RETRY: 560}, "project")
    BooksStack().update_settings(settings)
    middlewares = enabled(settings, "DOWNLOADER_MIDDLEWARES")
    assert OUR_RETRY in middlewares and SCRAPY_RETRY not in middlewares
    orders = {
        (k if isinstance(k, str) else f"{k.__module__}.{k.__qualname__}"): v
        for k, v in settings.getdict("DOWNLOADER_MIDDLEWARES").items()
    }
    assert orders[OUR_RETRY] == 560  # the project's position for retries
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "RetryMiddleware" in warnings[0]


def test_the_project_and_the_command_line_win() -> None:
    settings = Settings()
    settings.set("RETRY_TIMES", 3, "project")
    settings.set("DUPEFILTER_CLASS", "scrapy.dupefilters.RFPDupeFilter", "cmdline")
    moved = load_object("booksscraper.pipelines.export.ExportPipeline")
    settings.set("ITEM_PIPELINES", {moved: 950}, "project")
    BooksStack().update_settings(settings)
    assert settings.getint("RETRY_TIMES") == 3
    assert settings["DUPEFILTER_CLASS"] == "scrapy.dupefilters.RFPDupeFilter"
    assert settings.getdict("ITEM_PIPELINES")[moved] == 950


def scrapy_settings(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "scrapy", "settings", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_scrapy_settings_shows_what_a_crawl_runs_with() -> None:
    assert scrapy_settings("--get", "RETRY_TIMES") == "6"
    assert scrapy_settings("--get", "RETRY_TIMES", "-s", "RETRY_TIMES=2") == "2"


def test_scrapy_s_remote_control_is_left_out_when_off() -> None:
    off, on = Settings(), Settings()
    off.set("REMOTE_CONTROL_ENABLED", False, "project")
    on.set("REMOTE_CONTROL_ENABLED", True, "project")
    for settings in (off, on):
        BooksStack().update_settings(settings)
    assert REMOTE_CONTROL not in enabled(off, "EXTENSIONS")
    assert REMOTE_CONTROL in enabled(on, "EXTENSIONS")


def test_the_project_s_extensions_load_no_web_server() -> None:
    # Every extension a crawl of the project loads, in a fresh interpreter: none imports
    # aiohttp (Scrapy's remote control would, to find itself switched off).
    code = (
        "import sys; from scrapy.utils.project import get_project_settings; "
        "from scrapy.utils.conf import build_component_list; "
        "from scrapy.utils.misc import load_object; from booksscraper.addon import BooksStack; "
        "s = get_project_settings(); BooksStack().update_settings(s); "
        "[load_object(p) for p in build_component_list("
        "s.get_component_priority_dict_with_base('EXTENSIONS'))]; "
        "print('aiohttp' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.stdout.strip() == "False", result.stderr
