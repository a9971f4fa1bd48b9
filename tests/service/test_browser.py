"""The web page in headless Chromium: upload an image, see results, click one to search again."""
from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server_url(index_dir):
    import uvicorn

    from csdh.service.app import create_app

    app = create_app(index_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture()
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={tmp_path / 'chrome-profile'}", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_upload_shows_results_and_clicking_a_result_searches_again(browser, server_url, tiny) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server_url + "/")
    wait.until(lambda d: "images" in d.find_element(By.ID, "stats").text)  # /api/stats answered
    assert "24 images" in browser.find_element(By.ID, "stats").text

    query = tiny.photos / "red" / "1.png"
    browser.find_element(By.ID, "file").send_keys(str(query.resolve()))
    results = browser.find_element(By.ID, "results")
    wait.until(lambda d: results.get_attribute("data-search-count") == "1")
    tiles = browser.find_elements(By.CSS_SELECTOR, "#results .result")
    assert len(tiles) == 12  # the page asks for 12
    distances = [int(t.find_element(By.CSS_SELECTOR, ".distance").text.removeprefix("d=")) for t in tiles]
    assert distances == sorted(distances) and distances[0] == 0
    assert "results" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "query-img").get_attribute("src").startswith("blob:")
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    wait.until(lambda d: d.execute_script(  # the thumbnails load from /api/items/ID/image
        "return [...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)"))

    clicked = tiles[-1]
    clicked_id = clicked.get_attribute("data-id")
    wait.until(EC.element_to_be_clickable(clicked)).click()
    wait.until(lambda d: results.get_attribute("data-search-count") == "2")
    tiles = browser.find_elements(By.CSS_SELECTOR, "#results .result")
    assert tiles and tiles[0].find_element(By.CSS_SELECTOR, ".distance").text == "d=0"
    zero = [t.get_attribute("data-id") for t in tiles if t.find_element(By.CSS_SELECTOR, ".distance").text == "d=0"]
    assert clicked_id in zero or len(zero) == 12  # the clicked item is at distance 0 from itself
    assert browser.find_element(By.ID, "query-img").get_attribute("src").endswith(f"/api/items/{clicked_id}/image")
