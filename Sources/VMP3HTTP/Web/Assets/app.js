// VMP3's page. It speaks the public API (/openapi.json) with a session cookie: after logging in
// it hands the bearer token to POST /v1/session, which sets an HttpOnly cookie and answers with
// a CSRF token that every request that changes something carries. Nothing the server returns
// is ever inserted as HTML: text goes in with textContent, URLs are built from job ids only.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { csrf: null, jobs: new Map(), streams: new Map(), poll: null };
  const maxStreams = 3;  // browsers allow six connections per host; leave room for the rest

  // What a failure means, in words. Anything else shows the server's own message.
  const failureWords = {
    no_audio_stream: "This file has no audio track.",
    not_media_file: "This file is not a video or audio file.",
    unsupported_container: "VMP3 cannot read this kind of file.",
    unsupported_audio_format: "The sound in this file is in a format VMP3 cannot read.",
    unsupported_codec: "The sound in this file is in a format VMP3 cannot read.",
    damaged_input: "This file is damaged: its sound could not be read.",
    input_unreadable: "This file could not be read.",
    input_too_long: "This file is longer than this server converts.",
    output_too_large: "The MP3 would be larger than this server allows.",
    time_limit: "The conversion took longer than this server allows.",
    encoding_failed: "The MP3 could not be made.",
    cancelled: "The conversion was cancelled.",
    gave_up: "The conversion failed several times and was given up.",
    source_missing: "The uploaded file was lost before it was converted.",
    upload_too_large: "This file is larger than this server accepts.",
    quota_exceeded: "Your storage is full: delete some MP3s first.",
    active_jobs_limit: "You have as many conversions waiting as allowed: wait for some to finish.",
    rate_limited: "Too many uploads at once: wait a minute and try again.",
    storage_unavailable: "The server cannot store files right now: try again later.",
    queue_unavailable: "The server cannot take conversions right now: try again later.",
  };

  // ---- talking to the API -------------------------------------------------------------------

  class Problem extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `The server answered ${status}.`);
      this.status = status;
      this.code = body && body.type ? String(body.type).split("/").pop() : "";
    }
    get words() { return failureWords[this.code] || this.message; }
  }

  async function api(method, path, { body, token } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (method !== "GET" && method !== "HEAD" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    } catch {
      throw new Problem(0, { detail: "The server cannot be reached." });
    }
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (response.status === 401 && state.csrf && path !== "/v1/session") signedOut("Your session has ended: log in again.");
    if (!response.ok) throw new Problem(response.status, json);
    return json;
  }

  // ---- signing in and out -------------------------------------------------------------------

  function show(section, visible) { $(section).hidden = !visible; }

  function signedIn(session) {
    state.csrf = session.csrf_token;
    $("account-email").textContent = session.email || "";
    show("account", true); show("auth", false); show("convert", true); show("library", true);
    refreshJobs();
  }

  function signedOut(message) {
    state.csrf = null;
    for (const source of state.streams.values()) source.close();
    state.streams.clear(); state.jobs.clear();
    clearInterval(state.poll); state.poll = null;
    $("jobs").replaceChildren(); $("uploads").replaceChildren();
    show("account", false); show("convert", false); show("library", false); show("auth", true);
    $("auth-error").textContent = message || "";
    $("password").value = "";
  }

  async function authenticate(action) {
    const email = $("email").value.trim(), password = $("password").value;
    $("auth-error").textContent = "";
    if (!email || !password) { $("auth-error").textContent = "Enter your e-mail address and a password."; return; }
    for (const button of [$("login"), $("register")]) button.disabled = true;
    try {
      if (action === "register") await api("POST", "/v1/auth/register", { body: { email, password } });
      const login = await api("POST", "/v1/auth/login", { body: { email, password } });
      const session = await api("POST", "/v1/session", { token: login.access_token });
      $("password").value = "";
      signedIn(session);
    } catch (error) {
      $("auth-error").textContent = error.status === 409 ? "That address already has an account: log in instead." : error.message;
    } finally {
      for (const button of [$("login"), $("register")]) button.disabled = false;
    }
  }

  // ---- uploading ----------------------------------------------------------------------------

  function options() {
    const query = new URLSearchParams();
    if (document.querySelector("input[name=mode]:checked").value === "cbr") query.set("bitrate", $("bitrate").value);
    else query.set("quality", $("quality").value);
    for (const [id, name] of [["channels", "channels"], ["sample-rate", "sample_rate"], ["start", "start"],
      ["duration", "duration"], ["title", "title"], ["artist", "artist"], ["album", "album"], ["loudness", "loudness"]]) {
      const value = $(id).value.trim();
      if (value) query.set(name, value);
    }
    if (!$("cover").checked) query.set("cover", "none");
    return query;
  }

  function summarizeOptions() {
    const cbr = document.querySelector("input[name=mode]:checked").value === "cbr";
    const parts = [cbr ? `${$("bitrate").value} kbps constant` : `variable quality ${$("quality").value}`];
    parts.push($("channels").value ? $("channels").selectedOptions[0].textContent.toLowerCase() : "channels as the source");
    parts.push($("sample-rate").value ? $("sample-rate").selectedOptions[0].textContent : "sample rate as the source");
    if ($("loudness").value) parts.push(`${$("loudness").value} LUFS`);
    $("options-summary").textContent = `(${parts.join(", ")})`;
  }

  function upload(file) {
    const item = element("li", { className: "upload" });
    const label = element("span", { text: `Uploading ${file.name}` });
    const bar = element("progress", { max: 100, value: 0 });
    bar.setAttribute("aria-label", `Upload of ${file.name}`);
    const message = element("p", { className: "error" });
    item.append(label, bar, message);
    $("uploads").append(item);

    const query = options();
    query.set("filename", file.name);
    // URLSearchParams writes a space as "+", which a URI query (and so the API) reads as a "+".
    const text = [...query].map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open("POST", `/v1/jobs?${text}`);
      request.setRequestHeader("X-CSRF-Token", state.csrf || "");
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          bar.value = Math.round((event.loaded / event.total) * 100);
          label.textContent = `Uploading ${file.name}: ${bar.value} %`;
        }
      });
      request.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(request.responseText); } catch { body = null; }
        if (request.status >= 200 && request.status < 300 && body && body.id) {
          item.remove();
          track(body);
        } else {
          if (request.status === 401) signedOut("Your session has ended: log in again.");
          const problem = new Problem(request.status, body);
          label.textContent = `${file.name} was not uploaded`;
          message.textContent = problem.words;
          bar.remove();
        }
        resolve();
      });
      request.addEventListener("error", () => {
        label.textContent = `${file.name} was not uploaded`;
        message.textContent = "The upload was cut off: check the connection and try again.";
        bar.remove();
        resolve();
      });
      request.send(file);
    });
  }

  async function uploadAll(files) {
    $("upload-error").textContent = "";
    if (!files.length) { $("upload-error").textContent = "Choose a video first."; return; }
    $("start-upload").disabled = true;
    try {
      for (const file of files) await upload(file);  // one at a time: each gets the whole link
    } finally {
      $("start-upload").disabled = false;
      $("files").value = ""; $("chosen").textContent = "";
      state.dropped = null;
    }
  }

  // ---- the jobs -----------------------------------------------------------------------------

  function element(tag, { className, text, ...properties } = {}) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    Object.assign(node, properties);
    return node;
  }

  function megabytes(bytes) { return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`; }
  function minutes(seconds) {
    const whole = Math.round(seconds), h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
  }
  function jobName(job) { return job.source_name || (job.output && job.output.title) || `Job ${job.id.slice(0, 8)}`; }
  function downloadPath(job) { return `/v1/jobs/${encodeURIComponent(job.id)}/download`; }

  function statusText(job) {
    switch (job.status) {
      case "queued": return "Waiting to convert";
      case "running": return `Converting: ${Math.round((job.progress || 0) * 100)} %`;
      case "succeeded": return job.from_cache ? "Done (converted before)" : "Done: 100 %";
      case "failed": return "Failed";
      case "cancelled": return "Cancelled";
      default: return job.status;
    }
  }

  // One card per job, made once and updated in place, so that a playing <audio> keeps playing.
  function card(job) {
    let node = $(`job-${job.id}`);
    if (node) return node;
    node = element("li", { className: "job", id: `job-${job.id}` });
    const head = element("div", { className: "job-head" });
    head.append(element("span", { className: "job-name" }), element("span", { className: "job-status" }));
    const bar = element("progress", { className: "job-progress", max: 100, value: 0 });
    const actions = element("div", { className: "job-actions" });
    const remove = element("button", { type: "button", className: "danger job-delete", text: "Delete" });
    remove.addEventListener("click", () => deleteJob(job.id));
    actions.append(remove);
    node.append(head, bar, element("p", { className: "job-meta" }), element("p", { className: "job-error" }), actions);
    $("jobs").prepend(node);
    return node;
  }

  function render(job) {
    state.jobs.set(job.id, job);
    const node = card(job);
    node.dataset.status = job.status;
    const name = jobName(job);
    node.querySelector(".job-name").textContent = name;
    node.querySelector(".job-status").textContent = statusText(job);
    const bar = node.querySelector(".job-progress");
    bar.setAttribute("aria-label", `Conversion of ${name}`);
    bar.value = job.status === "succeeded" ? 100 : Math.round((job.progress || 0) * 100);
    bar.hidden = !["queued", "running", "succeeded"].includes(job.status) || (job.status === "succeeded" && node.querySelector("audio"));

    const meta = [];
    if (job.output) {
      meta.push(megabytes(job.output.byte_count), minutes(job.output.duration));
      meta.push(job.output.bitrate ? `${job.output.bitrate} kbps` : `VBR ${job.output.quality}`);
      meta.push(job.output.channels === 1 ? "mono" : "stereo");
      if (job.output.chapters && job.output.chapters.length) meta.push(`${job.output.chapters.length} chapter${job.output.chapters.length === 1 ? "" : "s"}`);
      if (job.output.cover) meta.push("cover");
      if (typeof job.output.loudness_gain === "number") meta.push(`${job.output.loudness_gain >= 0 ? "+" : "−"}${Math.abs(job.output.loudness_gain).toFixed(1)} dB to ${job.options.loudness} LUFS`);
      if (job.output.title) meta.push(`“${job.output.title}”`);
      if (job.output.artist) meta.push(job.output.artist);
    } else if (job.source_size) {
      meta.push(`video of ${megabytes(job.source_size)}`);
      if (job.options && job.options.title) meta.push(`“${job.options.title}”`);
    }
    node.querySelector(".job-meta").textContent = meta.join(" · ");
    const remove = node.querySelector(".job-delete");
    remove.textContent = terminal(job.status) ? "Delete" : "Cancel";
    remove.setAttribute("aria-label", `${remove.textContent} ${name}`);
    node.querySelector(".job-error").textContent =
      job.status === "failed" && job.failure ? failureWords[job.failure.code] || job.failure.message : "";

    if (job.status === "succeeded" && !node.querySelector("audio")) {
      const player = element("audio", { controls: true, preload: "metadata", src: downloadPath(job) });
      player.setAttribute("aria-label", `Play ${name}`);
      const link = element("a", { className: "button secondary job-download", href: downloadPath(job), text: "Download MP3" });
      link.setAttribute("download", "");
      link.setAttribute("aria-label", `Download ${name} as MP3`);
      node.insertBefore(player, node.querySelector(".job-actions"));
      node.querySelector(".job-actions").prepend(link);
      bar.hidden = true;
    }
    $("jobs-empty").hidden = state.jobs.size > 0;
  }

  function terminal(status) { return ["succeeded", "failed", "cancelled"].includes(status); }

  function track(job) {
    render(job);
    if (!terminal(job.status)) follow(job.id);
  }

  // Live progress over the job's event stream; jobs beyond maxStreams are polled instead.
  function follow(id) {
    if (state.streams.has(id)) return;
    if (state.streams.size >= maxStreams) { startPolling(); return; }
    const source = new EventSource(`/v1/jobs/${encodeURIComponent(id)}/events`);
    const update = (event) => {
      let job;
      try { job = JSON.parse(event.data); } catch { return; }
      render(job);
      if (terminal(job.status)) { source.close(); state.streams.delete(id); followWaiting(); }
    };
    source.addEventListener("status", update);
    source.addEventListener("progress", update);
    source.addEventListener("error", () => {
      // EventSource reconnects by itself; if the server refused (a 4xx), it gives up: read the job once.
      if (source.readyState === EventSource.CLOSED) {
        state.streams.delete(id);
        api("GET", `/v1/jobs/${encodeURIComponent(id)}`).then(render).catch(() => {});
      }
    });
    state.streams.set(id, source);
  }

  function followWaiting() {
    for (const job of state.jobs.values()) {
      if (state.streams.size >= maxStreams) break;
      if (!terminal(job.status)) follow(job.id);
    }
  }

  function startPolling() {
    if (state.poll) return;
    state.poll = setInterval(async () => {
      const waiting = [...state.jobs.values()].filter((job) => !terminal(job.status) && !state.streams.has(job.id));
      if (!waiting.length) { clearInterval(state.poll); state.poll = null; return; }
      for (const job of waiting) {
        try { render(await api("GET", `/v1/jobs/${encodeURIComponent(job.id)}`)); } catch { /* shown on the next try */ }
      }
    }, 2000);
  }

  async function refreshJobs() {
    try {
      const page = await api("GET", "/v1/jobs?limit=100");
      for (const job of page.jobs.slice().reverse()) track(job);
      $("jobs-empty").hidden = state.jobs.size > 0;
    } catch (error) {
      if (error.status !== 401) notice(error.message);
    }
  }

  async function deleteJob(id) {
    const node = $(`job-${id}`);
    try {
      const cancelled = await api("DELETE", `/v1/jobs/${encodeURIComponent(id)}`);
      if (cancelled && cancelled.id) { render(cancelled); return; }  // a running job is cancelled first
      const stream = state.streams.get(id);
      if (stream) { stream.close(); state.streams.delete(id); }
      state.jobs.delete(id);
      if (node) node.remove();
      $("jobs-empty").hidden = state.jobs.size > 0;
    } catch (error) {
      if (error.status === 404) { state.jobs.delete(id); if (node) node.remove(); return; }
      notice(error.message);
    }
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  // ---- wiring -------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", async () => {
    $("auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      authenticate(event.submitter && event.submitter.value === "register" ? "register" : "login");
    });
    $("logout").addEventListener("click", async () => {
      try { await api("DELETE", "/v1/session"); } catch { /* the cookie is gone either way */ }
      signedOut("");
    });
    $("upload-form").addEventListener("submit", (event) => {
      event.preventDefault();
      uploadAll(state.dropped || [...$("files").files]);
    });
    $("files").addEventListener("change", () => {
      state.dropped = null;
      const files = [...$("files").files];
      $("chosen").textContent = files.map((file) => file.name).join(", ");
    });
    for (const id of ["quality", "bitrate", "channels", "sample-rate", "loudness", "mode-vbr", "mode-cbr"]) $(id).addEventListener("change", summarizeOptions);
    $("quality").addEventListener("focus", () => { $("mode-vbr").checked = true; summarizeOptions(); });
    $("bitrate").addEventListener("focus", () => { $("mode-cbr").checked = true; summarizeOptions(); });

    const zone = $("drop-zone");
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      state.dropped = [...event.dataTransfer.files];
      $("chosen").textContent = state.dropped.map((file) => file.name).join(", ");
    });

    if (!window.isSecureContext) {
      notice("This page needs HTTPS (or localhost) to keep you logged in: ask whoever runs this server to put it behind TLS.");
    }
    try {
      signedIn(await api("GET", "/v1/session"));
    } catch {
      signedOut("");
    }
  });
})();
