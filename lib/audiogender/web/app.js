// The page: record from the microphone or drop files; one recording goes to /segment (answer, timeline),
// several to /predict (a row each). Nothing is loaded from anywhere but this server.
"use strict";
const $ = (id) => document.getElementById(id);
let recorder = null, chunks = [], started = 0, ticker = null;

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function send(route, files) {
  const form = new FormData();
  for (const file of files) form.append(route === "/predict" ? "files" : "file", file, file.name);
  const response = await fetch(route, { method: "POST", body: form });
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  return body;
}

function showAnswer(answer) {
  $("rows").hidden = true;
  $("result").hidden = false;
  $("label").textContent = answer.error ? "error" : answer.label;
  $("label").className = (answer.label || "").replace(" ", "-");
  $("p-female").textContent = answer.p_female == null ? "" : `p(female) = ${answer.p_female.toFixed(3)}`;
  const s = answer.speaking_seconds || {};
  $("speaking").textContent = `${answer.speech_seconds.toFixed(1)} s of speech in ${answer.duration_seconds.toFixed(1)} s: ` +
    `female ${s.female.toFixed(1)} s, male ${s.male.toFixed(1)} s, uncertain ${s.uncertain.toFixed(1)} s` + (answer.warning ? ` (${answer.warning})` : "");
  const timeline = $("timeline");
  timeline.replaceChildren();
  for (const seg of answer.segments) {
    const div = document.createElement("div");
    div.className = `segment ${seg.label.replace(" ", "-")}`;
    div.style.left = `${(100 * seg.start) / answer.duration_seconds}%`;
    div.style.width = `${(100 * (seg.end - seg.start)) / answer.duration_seconds}%`;
    div.title = `${seg.start.toFixed(2)}-${seg.end.toFixed(2)} s: ${seg.label} (p(female) ${seg.p_female.toFixed(2)})`;
    timeline.appendChild(div);
  }
  $("axis").innerHTML = `<span>0 s</span><span>${answer.duration_seconds.toFixed(1)} s</span>`;
}

async function drawWaveform(file) {
  const canvas = $("waveform"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  try {
    const context = new (window.AudioContext || window.webkitAudioContext)();
    const audio = await context.decodeAudioData(await file.arrayBuffer());
    context.close();
    const data = audio.getChannelData(0), step = Math.max(1, Math.floor(data.length / canvas.width)), mid = canvas.height / 2;
    let peak = 1e-9;
    for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
    g.fillStyle = "#555";
    for (let x = 0; x < canvas.width; x++) {
      let lo = 0, hi = 0;
      for (let i = x * step; i < Math.min(data.length, (x + 1) * step); i++) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
      g.fillRect(x, mid - (hi / peak) * mid, 1, Math.max(1, ((hi - lo) / peak) * mid));
    }
  } catch (e) {
    g.fillStyle = "#999";
    g.fillText("(this browser cannot draw this recording's waveform; the server read it)", 10, 20);
  }
}

function drawRelevance(map) {
  const canvas = $("relevance"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const bands = map.relevance.length, frames = bands ? map.relevance[0].length : 0;
  let peak = 1e-12;
  for (const row of map.relevance) for (const v of row) peak = Math.max(peak, Math.abs(v));
  const w = canvas.width / Math.max(1, frames), h = canvas.height / Math.max(1, bands);
  for (let b = 0; b < bands; b++) {
    for (let f = 0; f < frames; f++) {
      const v = map.relevance[b][f] / peak, a = Math.min(1, Math.abs(v));
      if (a < 0.02) continue;
      // amber for, teal against: not the timeline's colours, which stand for the genders
      g.fillStyle = v > 0 ? `rgba(191,129,45,${a})` : `rgba(53,151,143,${a})`;
      g.fillRect(f * w, canvas.height - (b + 1) * h, Math.ceil(w), Math.ceil(h));
    }
  }
  $("bands").textContent = "the answer rests on: " + Object.entries(map.by_frequency).map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(", ");
  const bytes = Uint8Array.from(atob(map.audible), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
  $("listen").onclick = () => new Audio(url).play();
  $("explained").hidden = false;
}

async function explain(file) {
  $("explained").hidden = true;
  try {
    const map = await send("/explain", [file]);
    if (map.relevance.length && map.label !== "no voice") drawRelevance(map);
  } catch (e) {
    // longer than a minute, or unreadable here: the answer above stands without its map
  }
}

async function classify(files) {
  files = Array.from(files);
  if (!files.length) return;
  status(`classifying ${files.length === 1 ? files[0].name : files.length + " files"}...`);
  try {
    if (files.length === 1) {
      const answer = await send("/segment", files);
      showAnswer(answer);
      await drawWaveform(files[0]);
      if (answer.duration_seconds <= 60) await explain(files[0]);
    } else {
      const rows = await send("/predict", files);
      $("result").hidden = true;
      const body = $("rows").querySelector("tbody");
      body.replaceChildren();
      for (const row of rows) {
        const tr = document.createElement("tr");
        for (const key of ["path", "label", "p_female", "speech_seconds", "duration_seconds", "female_seconds", "male_seconds", "note"]) {
          const td = document.createElement("td");
          const value = key === "note" ? row.error || row.warning : row[key];
          td.textContent = value == null ? "" : typeof value === "number" ? value.toFixed(3) : value;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      $("rows").hidden = false;
    }
    status("");
  } catch (e) {
    status(e.message, true);
  }
}

async function toggleRecording() {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    status(`the microphone is not available: ${e.message}`, true);
    return;
  }
  const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || "";
  recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
  chunks = [];
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    clearInterval(ticker);
    $("record").classList.remove("recording");
    $("record").innerHTML = "&#9679; Record";
    $("recording-time").textContent = "";
    const mime = recorder.mimeType || "audio/webm";
    const extension = mime.includes("ogg") ? "ogg" : mime.includes("mp4") ? "m4a" : "webm";
    classify([new File(chunks, `recording.${extension}`, { type: mime })]);
  };
  recorder.start(250);
  started = Date.now();
  $("record").classList.add("recording");
  $("record").innerHTML = "&#9632; Stop";
  ticker = setInterval(() => ($("recording-time").textContent = `${((Date.now() - started) / 1000).toFixed(0)} s`), 500);
}

$("record").addEventListener("click", toggleRecording);
$("files").addEventListener("change", (e) => classify(e.target.files));
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (e) => classify(e.dataTransfer.files));
