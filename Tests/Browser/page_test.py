#!/usr/bin/env python3
"""VMP3's web page in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium, against a running `vmp3 serve` or vmp3-gateway.

It signs a user up, uploads real clips made by the ffmpeg CLI, watches the upload and the
conversion progress, plays the MP3 in the page's <audio>, downloads it and checks the file,
shows a no-audio clip's failure in words, checks that a title holding <script> is shown as text
and that the page's Content-Security-Policy blocks an inline script, deletes a job, logs out,
and checks that a second user sees none of the first's jobs. It takes screenshots of the main
states at desktop and phone width into --screenshots.

Usage: page_test.py --base http://127.0.0.1:PORT --label serve --screenshots DIR --work DIR
Exit status 0 when every check passed; otherwise each failed check is printed.
"""
import argparse
import base64
import json
import pathlib
import subprocess
import sys
import time
import uuid

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

DESKTOP = (1280, 900)
PHONE = (390, 844)
PASSWORD = "a long passphrase"
HOSTILE_TITLE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


class Checks:
    """Collects failed checks instead of stopping at the first, so one run shows them all."""

    def __init__(self):
        self.failures = []
        self.passed = 0

    def expect(self, condition, what):
        if condition:
            self.passed += 1
            print(f"  ok   {what}", flush=True)
        else:
            self.failures.append(what)
            print(f"  FAIL {what}", flush=True)
        return condition


def make_clips(work):
    """Real media made by ffmpeg: a short clip, a longer one (its conversion lasts long enough
    to be seen), and a video with no audio track."""
    work.mkdir(parents=True, exist_ok=True)
    clips = {
        "clip.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=8",
                     "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=8",
                     "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", "-shortest"],
        "lecture.mp4": ["-f", "lavfi", "-i", "color=c=navy:size=64x64:rate=2:duration=600",
                        "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000:duration=600",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "96k", "-shortest"],
        "silent.mp4": ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3",
                       "-c:v", "libx264", "-preset", "ultrafast"],
    }
    paths = {}
    for name, arguments in clips.items():
        path = work / name
        if not path.exists():
            subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments, str(path)], check=True)
        paths[name] = path
    return paths


def start_browser(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "download.directory_upgrade": True,
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


class Page:
    def __init__(self, driver, base, screenshots, label, checks):
        self.driver, self.base, self.screenshots, self.label, self.checks = driver, base, screenshots, label, checks

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, what, condition, timeout=60):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda _: condition())
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def visible(self, css):
        elements = self.all(css)
        return bool(elements) and elements[0].is_displayed()

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def shoot(self, state, widths=("desktop", "phone")):
        """Screenshots of the whole page as it is (not just the window), at desktop and phone width."""
        for width in widths:
            size = DESKTOP if width == "desktop" else PHONE
            self.driver.set_window_size(*size)
            time.sleep(0.15)
            height = self.js("return Math.ceil(document.documentElement.scrollHeight)")
            view = self.js("return document.documentElement.clientWidth")
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": view, "height": height, "scale": 1},
            })
            path = self.screenshots / f"{self.label}-{state}-{width}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
        self.driver.set_window_size(*DESKTOP)

    def sign_up(self, email):
        self.find("#email").clear()
        self.find("#email").send_keys(email)
        self.find("#password").clear()
        self.find("#password").send_keys(PASSWORD)
        self.find("#register").click()
        self.wait("the converter after signing up", lambda: self.visible("#convert"))

    def log_in_by_keyboard(self, email):
        field = self.find("#email")
        field.clear()
        field.send_keys(email, Keys.TAB, PASSWORD, Keys.ENTER)  # Enter submits with "Log in"
        self.wait("the converter after logging in", lambda: self.visible("#convert"))

    def log_out(self):
        self.find("#logout").click()
        self.wait("the sign-in form after logging out", lambda: self.visible("#auth"))

    def choose(self, path, title=""):
        self.find("#files").send_keys(str(path))
        if title:
            self.js("document.querySelector('details.options').open = true")
            self.find("#title").clear()
            self.find("#title").send_keys(title)
            self.js("document.querySelector('details.options').open = false")

    def job_ids(self):
        # One script, not an element at a time: a card removed meanwhile would be a stale reference.
        return self.js("return [...document.querySelectorAll('#jobs li.job')].map(e => e.id.slice(4))")

    def card(self, job_id):
        return self.find(f"#job-{job_id}")

    def new_job(self, before, what, timeout=120):
        return self.wait(what, lambda: next((i for i in self.job_ids() if i not in before), None), timeout)

    def job_state(self, job_id):
        return self.js("""
            const card = document.getElementById('job-' + arguments[0]);
            if (!card) return null;
            const bar = card.querySelector('progress.job-progress');
            return {status: card.dataset.status, text: card.querySelector('.job-status').textContent,
                    progress: bar ? bar.value : null, error: card.querySelector('.job-error').textContent,
                    meta: card.querySelector('.job-meta').textContent};
        """, job_id)


def accessibility(page, checks):
    unlabelled = page.js("""
        return [...document.querySelectorAll('input, select, button, progress, audio')]
          .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
          .map(e => e.outerHTML.slice(0, 80));
    """)
    checks.expect(unlabelled == [], f"every control has a label for screen readers {unlabelled}")


def run(base, label, screenshots, work):
    checks = Checks()
    screenshots.mkdir(parents=True, exist_ok=True)
    for stale in screenshots.glob(f"{label}-*.png"):  # an earlier run's must not stand in for this one's
        stale.unlink()
    downloads = work / f"downloads-{label}"
    downloads.mkdir(parents=True, exist_ok=True)
    clips = make_clips(work)
    driver = start_browser(downloads)
    page = Page(driver, base, screenshots, label, checks)
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{suffix}@example.com", f"bob-{suffix}@example.com"
    try:
        driver.get(base + "/")
        page.wait("the sign-in form", lambda: page.visible("#auth"))
        checks.expect(driver.title.startswith("VMP3"), "the page at / is VMP3's")
        page.shoot("signin")

        # Sign up: the empty state.
        page.sign_up(alice)
        page.wait("the empty job list", lambda: page.visible("#jobs-empty"))
        checks.expect(page.find("#account-email").text == alice, "the account shows who is logged in")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        session = cookies.get("vmp3_session", {})
        checks.expect(session.get("httpOnly") and session.get("secure") and session.get("sameSite") == "Strict",
                      f"the session cookie is HttpOnly, Secure and SameSite=Strict ({session.get('sameSite')})")
        checks.expect(page.js("return document.cookie.includes('vmp3_session')") is False, "no script can read the session cookie")
        accessibility(page, checks)
        page.shoot("empty")

        # Uploading: a slow link, so that the upload's progress bar is seen moving.
        driver.set_network_conditions(offline=False, latency=5, download_throughput=10_000_000, upload_throughput=60_000)
        before = page.job_ids()
        page.choose(clips["clip.mp4"], title=HOSTILE_TITLE)
        page.find("#start-upload").click()
        page.wait("the upload's progress", lambda: page.js(
            "const b = document.querySelector('#uploads progress'); return b && b.value > 0 && b.value < 100"), timeout=60)
        checks.expect("Uploading clip.mp4" in page.find("#uploads").text, "the upload shows its file and percentage")
        page.shoot("uploading")
        driver.delete_network_conditions()
        clip_job = page.new_job(before, "the uploaded clip's job")
        checks.expect(True, f"the upload became job {clip_job}")

        # Converting: a ten-minute lecture, whose progress is followed over the event stream.
        before = page.job_ids()
        page.js("document.getElementById('title').value = ''")
        # Options chosen on the page reach the job: loudness normalisation to −16 LUFS, no cover.
        page.js("document.getElementById('loudness').value = '-16'; document.getElementById('cover').checked = false")
        page.choose(clips["lecture.mp4"])
        page.find("#start-upload").click()
        lecture = page.new_job(before, "the lecture's job")
        seen = set()
        shot = False

        def lecture_done():
            nonlocal shot
            state = page.job_state(lecture)
            if state and state["status"] == "running":
                seen.add(state["progress"])
                if not shot and 0 < state["progress"] < 100:
                    page.shoot("converting")
                    shot = True
            return state and state["status"] in ("succeeded", "failed", "cancelled")

        page.wait("the lecture's conversion to end", lecture_done, timeout=240)
        final = page.job_state(lecture)
        checks.expect(any(0 < value < 100 for value in seen), f"the conversion's progress was seen between 0 and 100 % ({sorted(seen)[:8]}…)")
        checks.expect(final["status"] == "succeeded" and final["progress"] == 100 and "100 %" in final["text"],
                      f"the progress reached 100 % and the job succeeded ({final})")
        checks.expect("dB to -16 LUFS" in final["meta"], f"the page's loudness option reached the job ({final['meta']})")
        page.js("document.getElementById('loudness').value = ''; document.getElementById('cover').checked = true")

        # Done: the clip plays in the page and downloads as the MP3 of clip.mp4.
        page.wait("the clip's job to succeed", lambda: (page.job_state(clip_job) or {}).get("status") == "succeeded", timeout=120)
        duration = page.wait("the clip's <audio> to know its duration", lambda: page.js(
            "const a = document.querySelector('#job-' + arguments[0] + ' audio'); return a && a.duration > 0 && a.duration", clip_job))
        checks.expect(abs(duration - 8) < 0.5, f"the <audio> element reports the MP3's duration ({duration:.2f} s of 8)")
        played = driver.execute_async_script("""
            const a = document.querySelector('#job-' + arguments[0] + ' audio'), done = arguments[1];
            a.currentTime = 6;
            a.play().then(() => setTimeout(() => { const t = a.currentTime; a.pause(); done(t); }, 500), e => done(String(e)));
        """, clip_job)
        checks.expect(isinstance(played, (int, float)) and played > 6, f"the player seeks to 6 s and plays on ({played})")
        checks.expect(HOSTILE_TITLE in page.job_state(clip_job)["meta"], "a title holding <script> is shown as text")
        checks.expect(page.js("return window.pwned === undefined && document.scripts.length === 1 && !document.querySelector('img[src=x]')"),
                      "nothing of that title ran or became an element")
        page.shoot("done")

        link = page.find(f"#job-{clip_job} a.job-download")
        link.click()
        mp3 = downloads / "clip.mp3"
        page.wait("clip.mp3 in the downloads", lambda: mp3.exists() and not (downloads / "clip.mp3.crdownload").exists(), timeout=60)
        data = mp3.read_bytes()
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=format_name,duration", "-of", "json", str(mp3)],
                               capture_output=True, text=True)
        form = json.loads(probe.stdout or "{}").get("format", {})
        checks.expect((data[:3] == b"ID3" or data[:2] == b"\xff\xfb") and form.get("format_name") == "mp3"
                      and abs(float(form.get("duration", 0)) - 8) < 0.5,
                      f"the downloaded file is clip.mp3, an MP3 of 8 s ({len(data)} bytes, {form})")

        # The Content-Security-Policy: an inline script put in the page does not run.
        blocked = driver.execute_async_script("""
            const done = arguments[0];
            document.addEventListener('securitypolicyviolation', e => done(e.effectiveDirective), {once: true});
            const s = document.createElement('script'); s.textContent = 'window.inlineRan = true;';
            document.body.append(s);
            setTimeout(() => done(null), 2000);
        """)
        checks.expect(blocked in ("script-src-elem", "script-src") and page.js("return window.inlineRan === undefined"),
                      f"the Content-Security-Policy blocks an inline script ({blocked})")

        # A video with no audio track, dropped on the page: its failure in words.
        before = page.job_ids()
        page.find("#files").send_keys(str(clips["silent.mp4"]))
        page.js("""
            const input = document.getElementById('files'), file = input.files[0], dropped = new DataTransfer();
            input.value = '';
            dropped.items.add(file);
            document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: dropped, bubbles: true, cancelable: true}));
        """)
        checks.expect(page.find("#chosen").text == "silent.mp4" and page.js("return document.getElementById('files').files.length") == 0,
                      "a file dropped on the page is the one chosen")
        page.find("#start-upload").click()
        words = "This file has no audio track."
        page.wait("the no-audio clip's error", lambda: words in page.js("return document.getElementById('main').innerText"), timeout=120)
        checks.expect(True, "a video without audio shows “This file has no audio track.”")
        page.shoot("error")
        silent = next((i for i in page.job_ids() if i not in before), None)

        # Delete: the job leaves the list, and stays gone after a reload.
        if checks.expect(silent is not None, "the no-audio clip is a job in the list"):
            page.find(f"#job-{silent} .job-delete").click()
            page.wait("the deleted job to leave the list", lambda: silent not in page.job_ids())
            driver.refresh()
            page.wait("the job list after a reload", lambda: clip_job in page.job_ids())
            checks.expect(silent not in page.job_ids(), "a deleted job stays deleted after a reload (the session survived it)")

        # Another user sees none of the first's jobs, not even by address.
        page.log_out()
        checks.expect(page.js("return document.getElementById('jobs').children.length") == 0, "logging out clears the page")
        page.sign_up(bob)
        page.wait("Bob's empty list", lambda: page.visible("#jobs-empty"))
        checks.expect(page.job_ids() == [], "user B's list is empty")
        status = driver.execute_async_script("""
            fetch('/v1/jobs/' + arguments[0] + '/download').then(r => arguments[1](r.status), e => arguments[1](String(e)));
        """, clip_job)
        checks.expect(status == 404, f"user B gets 404 for user A's MP3 ({status})")
        status = driver.execute_async_script("""
            fetch('/v1/jobs/' + arguments[0], {method: 'DELETE'}).then(r => arguments[1](r.status), e => arguments[1](String(e)));
        """, clip_job)
        checks.expect(status == 403, f"a DELETE with the cookie but without the CSRF token is refused ({status})")

        # Back as the first user, with the keyboard only: the jobs are still there.
        page.log_out()
        page.log_in_by_keyboard(alice)
        page.wait("Alice's jobs", lambda: clip_job in page.job_ids() and lecture in page.job_ids())
        checks.expect(True, "user A logs in again with the keyboard and finds her MP3s")

        errors = [entry["message"] for entry in driver.get_log("browser")
                  if entry["level"] == "SEVERE" and "inlineRan" not in entry["message"] and "Content Security Policy" not in entry["message"]
                  and "/download" not in entry["message"] and "status of 40" not in entry["message"]]
        checks.expect(errors == [], f"no script errors in the console {errors[:3]}")
    except (AssertionError, WebDriverException) as error:
        checks.failures.append(str(error).splitlines()[0] if str(error) else repr(error))
        print(f"  FAIL {checks.failures[-1]}", flush=True)
        try:
            page.shoot("failure", widths=("desktop",))
        except WebDriverException:
            pass
    finally:
        driver.quit()
    return checks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--screenshots", required=True, type=pathlib.Path)
    parser.add_argument("--work", required=True, type=pathlib.Path)
    arguments = parser.parse_args()
    print(f"browser test of {arguments.base} ({arguments.label})", flush=True)
    checks = run(arguments.base.rstrip("/"), arguments.label, arguments.screenshots, arguments.work)
    print(f"{checks.passed} checks passed, {len(checks.failures)} failed; screenshots in {arguments.screenshots}", flush=True)
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
