"""README's "Compare the recipes in MLflow", clicked through in headless Chromium: a check, not a benchmark.

Opens MLflow's UI at a tracking server's URL, chooses **Model training** and the experiment, then follows
the README's steps literally (search, Sort ascending by `summary/<objective>_mean`, Group by the tag
`harness.variant`, chart view), and opens the best recipe's first confirmation run. It saves a screenshot
(1600x1000) after each step, reads the runs table's groups, their counts and their order, and measures the
sample picture on the run's page.

    mlflow ui --backend-store-uri sqlite:///runs/mlflow.db --port 5000 &
    python benchmarks/mlflow_readme_steps.py http://127.0.0.1:5000 digits-ablation fd_classifier shots/

Needs selenium (`pip install selenium`) and Chromium with its driver (Debian: `apt-get install chromium
chromium-driver`). tests/test_mlflow_ui.py runs it on a tiny sweep, and skips it, saying so, without them.
The last line is `groups after sort: <variant (seeds)>, ...`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WINDOW = (1600, 1000)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"
SETTLE_S = 4.0  # the UI fetches and redraws after each click; the checks poll, the screenshots wait this long
WAIT_S = 60.0


@dataclass
class Seen:
    """What the browser showed: each step's screenshot, the groups before and after the sort, the picture."""

    screenshots: list[Path] = field(default_factory=list)
    group_counts_before_sort: dict[str, int] = field(default_factory=dict)
    groups_after_sort: list[str] = field(default_factory=list)
    run_picture_height: int = 0


def browser_problem() -> str | None:
    """Why the browser check cannot run here (None when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not any(shutil.which(name) for name in CHROMIUM) or not shutil.which(DRIVER):
        return "Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
    return None


def start_browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = next(shutil.which(name) for name in CHROMIUM if shutil.which(name))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the page itself is 1600x1000
                            {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
    browser.implicitly_wait(WAIT_S)
    return browser


def by_text(browser: Any, text: str, tag: str = "*") -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.XPATH, f"//{tag}[normalize-space(.)='{text}']")


def option(browser: Any, text: str) -> Any:
    """A menu's entry: the innermost element whose own text it is."""
    from selenium.webdriver.common.by import By

    return browser.find_element(By.XPATH, f"//*[normalize-space(text())='{text}']")


def settle(browser: Any, folder: Path, seen: Seen, name: str) -> None:
    time.sleep(SETTLE_S)
    path = folder / f"{len(seen.screenshots) + 1}-{name}.png"
    browser.save_screenshot(str(path))
    seen.screenshots.append(path)


def escape(browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser).send_keys(Keys.ESCAPE).perform()


def open_experiment(browser: Any, url: str, experiment: str) -> None:
    """The README's "open http://127.0.0.1:5000, choose Model training at the top left, then the experiment"."""
    browser.get(url.rstrip("/") + "/")
    by_text(browser, "Model training", "span").click()
    by_text(browser, experiment, "a").click()
    search_box(browser)


def search_box(browser: Any) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, "input[placeholder*='metrics.rmse']")


def search(browser: Any, text: str) -> None:
    """Step 1: type the search and press Enter."""
    from selenium.webdriver.common.keys import Keys

    box = search_box(browser)
    box.click()
    box.send_keys(text, Keys.ENTER)


def sort_ascending(browser: Any, key: str) -> None:
    """Step 2: open Sort, type the key and pick it; open Sort again and press its up arrow (ascending).
    (Either pick closes the menu.)"""
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "[data-testid=sort-select-dropdown]").click()
    browser.switch_to.active_element.send_keys(key)
    option(browser, key).click()
    time.sleep(1)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=sort-select-dropdown]").click()
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Sort ascending']").click()


def group_by(browser: Any, tag: str) -> None:
    """Step 3: open Group by and choose the tag."""
    by_text(browser, "Group by", "button").click()
    option(browser, tag).click()
    escape(browser)


def groups(browser: Any) -> list[tuple[str, int]]:
    """The runs table's group rows, top to bottom: ('wgan_gp', 2); runs without the tag are 'Additional runs'."""
    from selenium.webdriver.common.by import By

    found = []
    for cell in browser.find_elements(By.XPATH, "//*[starts-with(normalize-space(.), 'Group: ') and not(*)] | "
                                                "//*[normalize-space(.)='Additional runs' and not(*)]"):
        row = cell.find_element(By.XPATH, "./ancestor::*[@role='row' or contains(@class, 'ag-row')][1]")
        count = next(int(t) for t in row.text.split() if t.isdigit())
        found.append((cell.get_attribute("title") or cell.text.removeprefix("Group: "), count, row.location["y"]))
    return [(name, count) for name, count, _ in sorted(found, key=lambda item: item[2])]


def chart_view(browser: Any) -> None:
    """Step 4: the middle of the three view buttons left of the search box."""
    from selenium.webdriver.common.by import By

    box = search_box(browser).location
    buttons = [b for b in browser.find_elements(By.TAG_NAME, "label")
               if abs(b.location["y"] - box["y"]) < 20 and b.location["x"] < box["x"] and b.is_displayed()]
    sorted(buttons, key=lambda b: b.location["x"])[1].click()


def open_run(browser: Any, name: str) -> int:
    """Click a run's name in the table: its page opens on Overview. The height of its sample picture."""
    from selenium.webdriver.common.by import By

    by_text(browser, name, "a").click()
    image = browser.find_element(By.XPATH, "//img[contains(@src, 'samples_preview.png')]")
    deadline = time.monotonic() + WAIT_S
    while not browser.execute_script("return arguments[0].complete && arguments[0].naturalHeight", image):
        if time.monotonic() > deadline:
            raise RuntimeError("the run's sample picture did not load")
        time.sleep(0.5)
    return int(image.size["height"])


def follow_readme(url: str, experiment: str, objective: str, folder: Path) -> Seen:
    """The README's steps, a screenshot after each, and what they showed."""
    folder.mkdir(parents=True, exist_ok=True)
    seen, browser = Seen(), start_browser()
    try:
        open_experiment(browser, url, experiment)
        settle(browser, folder, seen, "experiment")
        search(browser, "tags.harness.stage = 'confirm'")
        settle(browser, folder, seen, "search")
        sort_ascending(browser, f"summary/{objective}_mean")
        settle(browser, folder, seen, "sort")
        group_by(browser, "harness.variant")
        settle(browser, folder, seen, "group")
        seen.groups_after_sort = [f"{name} ({count})" for name, count in groups(browser)]
        chart_view(browser)
        settle(browser, folder, seen, "chart")
        best = seen.groups_after_sort[0].split(" (")[0]
        seen.run_picture_height = open_run(browser, confirm_run_name(browser, best))
        settle(browser, folder, seen, "run")
    finally:
        browser.quit()
    seen.group_counts_before_sort = counts_under_default_sort(url, experiment, folder, seen)
    return seen


def confirm_run_name(browser: Any, variant: str) -> str:
    """The first confirmation run of a variant that the table lists."""
    from selenium.webdriver.common.by import By

    links = browser.find_elements(By.XPATH, f"//a[starts-with(normalize-space(.), 'confirm s') and "
                                            f"substring(normalize-space(.), string-length(normalize-space(.)) - "
                                            f"{len(variant) + 2}) = ' · {variant}']")
    return links[0].text.strip()


def counts_under_default_sort(url: str, experiment: str, folder: Path, seen: Seen) -> dict[str, int]:
    """The steps in another order, Group by before Sort, in a fresh browser (the UI keeps an experiment's
    sort and grouping in the browser's storage): the table then shows the parents as well, apart from
    the groups, and each group's count is its seeds."""
    browser = start_browser()
    try:
        open_experiment(browser, url, experiment)
        search(browser, "tags.harness.stage = 'confirm'")
        group_by(browser, "harness.variant")
        settle(browser, folder, seen, "group-before-sort")
        return {name: count for name, count in groups(browser) if name != "Additional runs"}
    finally:
        browser.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the tracking server, e.g. http://127.0.0.1:5000")
    parser.add_argument("experiment", help="the experiment's name (the config's `name`)")
    parser.add_argument("objective", help="the sweep's objective, e.g. fd_classifier")
    parser.add_argument("folder", type=Path, help="where the screenshots go")
    args = parser.parse_args(argv)
    if problem := browser_problem():
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    seen = follow_readme(args.url, args.experiment, args.objective, args.folder)
    for path in seen.screenshots:
        print(f"screenshot: {path}")
    print(f"groups before sort: {seen.group_counts_before_sort}")
    print(f"sample picture on the run's page: {seen.run_picture_height} px tall")
    print(f"groups after sort: {', '.join(seen.groups_after_sort)}")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
