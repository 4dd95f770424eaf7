"""The web page in a real headless Chromium (Debian's chromium and chromium-driver; `make browser` installs them).

The microphone is Chromium's fake capture device fed from a test WAV, so recording, sending
(what the browser records: WebM/Opus) and the answer are the real thing end to end.
"""

import shutil
import wave

import numpy as np
import pytest

import audiogender
from helpers import SAMPLES, start_server

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CHROMIUM and shutil.which("chromedriver")), reason="chromium and chromedriver are not installed (make browser)")]


@pytest.fixture(scope="module")
def served():
    server, url = start_server()
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def voice_wav(tmp_path_factory):
    """A man's voice as the fake microphone's input (Chromium wants 16-bit PCM WAV)."""
    path = tmp_path_factory.mktemp("mic") / "voice.wav"
    samples = audiogender.load_audio(SAMPLES / "cmu_arctic_us_aew_a0001.wav", sample_rate=48_000)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48_000)
        w.writeframes((np.tile(samples, 3) * 32767 * 0.9).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def browser(voice_wav):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={voice_wav}", "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    yield driver
    driver.quit()


def wait_for(driver, condition, seconds=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))


def test_record_from_the_microphone_and_see_the_label(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(served + "/")
    record = browser.find_element(By.ID, "record")
    record.click()
    wait_for(browser, lambda d: "recording" in record.get_attribute("class"))
    wait_for(browser, lambda d: d.find_element(By.ID, "recording-time").text.startswith("3"), 15)
    record.click()  # stop: the recording (WebM/Opus) goes to /segment
    label = wait_for(browser, lambda d: d.find_element(By.ID, "label").text)
    assert label == "male", browser.find_element(By.ID, "status").text
    assert "p(female)" in browser.find_element(By.ID, "p-female").text
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"


def test_drop_a_file_and_see_the_timeline(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(served + "/")
    browser.find_element(By.ID, "files").send_keys(str(SAMPLES / "3436-172162-0000.ogg"))  # what a drop hands the page too
    segments = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline .segment"))
    expected = audiogender.load_model().segment(SAMPLES / "3436-172162-0000.ogg")
    assert len(segments) == len(expected.segments) >= 2
    assert browser.find_element(By.ID, "label").text == expected.prediction.label
    drawn = browser.execute_script("const c = document.getElementById('waveform'); return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 == 3 && v > 0)")
    assert drawn  # the waveform is on the canvas


def test_several_files_get_a_row_each(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(served + "/")
    names = ["p240_00000.mp3", "cmu_arctic_us_axb_a0004.wav"]
    browser.find_element(By.ID, "files").send_keys("\n".join(str(SAMPLES / n) for n in names))
    rows = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tbody tr"))
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == names


def test_a_woman_then_a_man_shows_mixed_with_a_legend_and_each_stretch_labelled_on_hover(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    woman = audiogender.load_audio(SAMPLES / "198-209-0000.ogg")[: 8 * 16_000]
    man = audiogender.load_audio(SAMPLES / "3436-172162-0000.ogg")[: 7 * 16_000]
    path = tmp_path / "two voices.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
        w.writeframes((np.concatenate([woman, man]) * 32767 * 0.9).astype("<i2").tobytes())
    browser.get(served + "/")
    browser.find_element(By.ID, "files").send_keys(str(path))
    segments = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline .segment"))
    assert browser.find_element(By.ID, "label").text == "mixed"
    speaking = browser.find_element(By.ID, "speaking").text
    assert "female" in speaking and "male" in speaking
    legend = browser.find_element(By.ID, "legend").text
    assert all(word in legend for word in ("female", "male", "uncertain"))
    titles = [s.get_attribute("title") for s in segments]
    assert any("female" in t for t in titles) and any(": male" in t for t in titles) and all(" s: " in t for t in titles)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] if hasattr(browser, "get_log") else []
    assert not [e for e in errors if "Content Security Policy" in e["message"]], errors  # the page keeps to its own policy


def test_what_the_model_listened_to_is_drawn_under_the_waveform_and_can_be_heard(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(served + "/")
    browser.find_element(By.ID, "files").send_keys(str(SAMPLES / "p240_00000.mp3"))
    wait_for(browser, lambda d: d.find_element(By.ID, "explained").is_displayed(), 90)
    drawn = browser.execute_script("const c = document.getElementById('relevance'); return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 == 3 && v > 0).length")
    assert drawn > 1000  # cells for and against, not an empty strip
    colours = browser.execute_script(
        "const c = document.getElementById('relevance'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = {};"
        "for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 128) seen[[d[i], d[i + 1], d[i + 2]]] = [d[i], d[i + 1], d[i + 2]];"
        "return Object.values(seen);")
    # amber and teal: the strip must not borrow the timeline's red and blue, which mean female and male
    reddish = [(r, g, b) for r, g, b in colours if r > 150 and g < 90]
    bluish = [(r, g, b) for r, g, b in colours if b > 140 and r < 80 and b > g + 40]
    assert colours and not reddish and not bluish, (reddish[:3], bluish[:3])
    assert "0-300 Hz" in browser.find_element(By.ID, "bands").text
    browser.execute_script("window.played = null; const play = Audio.prototype.play; Audio.prototype.play = function () { window.played = this.src; return play.call(this).catch(() => {}); }")
    browser.find_element(By.ID, "listen").click()
    assert wait_for(browser, lambda d: d.execute_script("return window.played"), 10).startswith("blob:")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] if hasattr(browser, "get_log") else []
    assert not [e for e in errors if "Content Security Policy" in e["message"]], errors
