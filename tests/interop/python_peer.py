#!/usr/bin/env python3
"""Greenroom interop peer built on the official LiveKit Python SDK.

Joins a LiveKit room, performs one job (--mode) and prints one JSON object per
line on stdout (flushed). Logs go to stderr. Always exits: a hard watchdog
terminates the process a few seconds after --seconds if anything hangs.
Exit code 0 on success; non-zero after printing {"event":"error","message":...}.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import logging
import math
import os
import sys
import threading
import time
import warnings

# livekit-api warns that dev keys ("secret") are short HMAC keys; harmless here.
warnings.filterwarnings("ignore", message=".*HMAC key.*")

log = logging.getLogger("python_peer")

SAMPLE_RATE = 48000
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms
DATA_TOPIC = "greenroom-test"
ECHO_TOPIC = "echo"
WATCHDOG_GRACE_S = 15.0

_out_lock = threading.Lock()


def emit(event: str, **fields) -> None:
    obj = {"event": event, **fields}
    line = json.dumps(obj, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class PeerError(Exception):
    pass


# --------------------------------------------------------------------------- helpers


def mint_token(args) -> str:
    from livekit import api

    missing = [n for n in ("api_key", "api_secret", "room", "identity") if not getattr(args, n)]
    if missing:
        raise PeerError(
            "--token absent and cannot mint one; missing: "
            + ", ".join("--" + m.replace("_", "-") for m in missing)
        )
    grants = api.VideoGrants(
        room_join=True,
        room=args.room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
    )
    return (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(args.identity)
        .with_name(args.identity)
        .with_grants(grants)
        .to_jwt()
    )


def goertzel_power(samples, freq: float, rate: int) -> float:
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def zero_crossing_freq(samples, rate: int):
    """Frequency from interpolated positive-going zero crossings (None if < 2)."""
    first = last = None
    n = 0
    prev = samples[0]
    for i in range(1, len(samples)):
        cur = samples[i]
        if prev < 0.0 <= cur:
            t = (i - 1) + (-prev) / (cur - prev)
            if first is None:
                first = t
            last = t
            n += 1
        prev = cur
    if n < 2 or last == first:
        return None
    return (n - 1) * rate / (last - first)


def estimate_frequency(samples, rate: int):
    """Dominant frequency in 100..4000 Hz via a two-stage Goertzel scan (stdlib only).

    Returns (freq_hz, tone_amplitude, zcr_hz). tone_amplitude is the estimated
    sine amplitude at freq_hz in full-scale units (0..1).
    """
    zcr = zero_crossing_freq(samples, rate)
    # Coarse: 0.1 s block, 10 Hz steps.
    coarse_n = min(len(samples), rate // 10)
    block = samples[:coarse_n]
    best_f, best_p = 100.0, -1.0
    f = 100.0
    while f <= 4000.0:
        p = goertzel_power(block, f, rate)
        if p > best_p:
            best_f, best_p = f, p
        f += 10.0
    # Fine: up to 0.5 s block, 0.5 Hz steps within +-10 Hz of the coarse peak.
    fine_n = min(len(samples), rate // 2)
    block = samples[:fine_n]
    f = max(100.0, best_f - 10.0)
    hi = min(4000.0, best_f + 10.0)
    fine_f, fine_p = best_f, -1.0
    while f <= hi + 1e-9:
        p = goertzel_power(block, f, rate)
        if p > fine_p:
            fine_f, fine_p = f, p
        f += 0.5
    amp = 2.0 * math.sqrt(max(fine_p, 0.0)) / fine_n if fine_n else 0.0
    return fine_f, amp, zcr


def packet_info(packet):
    from livekit import rtc

    # participant is None for server-SDK senders AND for participants this
    # client has not been told about yet (see README: ~2 s join announcement).
    sender = packet.participant.identity if packet.participant is not None else None
    try:
        text = packet.data.decode("utf-8")
    except UnicodeDecodeError:
        text = packet.data.decode("utf-8", errors="replace")
    reliable = packet.kind == rtc.DataPacketKind.KIND_RELIABLE
    return sender, text, reliable


# --------------------------------------------------------------------------- peer


class Peer:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.seconds
        self.room = None
        self.connected_at = None
        self.tasks: set[asyncio.Task] = set()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self) -> None:
        from livekit import rtc

        token = self.args.token or mint_token(self.args)
        self.room = rtc.Room()
        room = self.room

        @room.on("participant_connected")
        def _on_pc(p):
            emit("participant_connected", identity=p.identity)

        @room.on("participant_disconnected")
        def _on_pd(p):
            emit("participant_disconnected", identity=p.identity)

        @room.on("disconnected")
        def _on_disc(reason=None):
            log.info("room disconnected: %s", reason)

        log.info("connecting to %s", self.args.url)
        try:
            await asyncio.wait_for(
                room.connect(self.args.url, token, rtc.RoomOptions(auto_subscribe=True)),
                timeout=max(1.0, self.remaining()),
            )
        except asyncio.TimeoutError:
            raise PeerError("timed out connecting to %s" % self.args.url) from None
        except rtc.ConnectError as e:
            raise PeerError("connect failed: %s" % e) from None
        self.connected_at = time.monotonic()
        lp = room.local_participant
        emit(
            "joined",
            identity=lp.identity,
            participant_sid=lp.sid,
            room=room.name,
            remote_participants=sorted(room.remote_participants.keys()),
            connect_ms=round((self.connected_at - self.t0) * 1000.0, 1),
        )

    async def disconnect(self) -> None:
        for t in list(self.tasks):
            if not t.done():
                try:
                    await asyncio.wait_for(asyncio.shield(t), timeout=1.0)
                except Exception:
                    pass
        if self.room is not None:
            try:
                await asyncio.wait_for(self.room.disconnect(), timeout=5.0)
            except Exception as e:  # noqa: BLE001
                log.warning("disconnect: %s", e)

    # ---------------------------------------------------------------- publish-tone

    async def publish_tone(self) -> int:
        from livekit import rtc

        freq = self.args.frequency
        amp = self.args.amplitude
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200)
        track = rtc.LocalAudioTrack.create_audio_track("tone", source)
        opts = rtc.TrackPublishOptions()
        opts.source = rtc.TrackSource.SOURCE_MICROPHONE
        if self.args.no_red:
            opts.red = False  # plain Opus instead of the SDK default audio/red (RED-wrapped Opus)

        @self.room.on("local_track_subscribed")
        def _on_lts(t):
            emit("local_track_subscribed", track_sid=t.sid)

        pub = await asyncio.wait_for(
            self.room.local_participant.publish_track(track, opts),
            timeout=max(1.0, self.remaining()),
        )
        emit("published", track_sid=pub.sid, track_name="tone", source="microphone",
             sample_rate=SAMPLE_RATE, channels=1, frequency_hz=freq, red=not self.args.no_red)

        # One second of samples: exact period for integer frequencies (a
        # non-integer frequency gets a tiny phase jump once per second).
        table = array.array("h", (
            int(32767.0 * amp * math.sin(2.0 * math.pi * freq * n / SAMPLE_RATE))
            for n in range(SAMPLE_RATE)
        )).tobytes()
        frames = 0
        start = time.monotonic()
        while time.monotonic() < self.deadline:
            off = (frames % 100) * FRAME_SAMPLES * 2
            frame = rtc.AudioFrame(table[off:off + FRAME_SAMPLES * 2], SAMPLE_RATE, 1, FRAME_SAMPLES)
            await source.capture_frame(frame)  # blocks when the source queue is full
            frames += 1
            # Keep real-time pacing even if capture_frame returns early.
            ahead = start + frames * 0.01 - time.monotonic()
            if ahead > 0.05:
                await asyncio.sleep(ahead - 0.05)
        emit("done", frames_sent=frames)
        try:
            await asyncio.wait_for(source.aclose(), timeout=2.0)
        except Exception:  # noqa: BLE001
            pass
        return 0

    # ---------------------------------------------------------------- receive-audio

    async def receive_audio(self) -> int:
        from livekit import rtc

        want = self.args.from_identity
        got: asyncio.Future = asyncio.get_running_loop().create_future()

        def offer(track, publication, participant):
            if got.done() or track is None or track.kind != rtc.TrackKind.KIND_AUDIO:
                return
            if want and participant.identity != want:
                return
            got.set_result((track, publication, participant))

        @self.room.on("track_subscribed")
        def _on_ts(track, publication, participant):
            emit("track_subscribed", participant=participant.identity, track_sid=track.sid,
                 track_name=publication.name, kind="audio" if track.kind == rtc.TrackKind.KIND_AUDIO else "video",
                 source=rtc.TrackSource.Name(publication.source))
            offer(track, publication, participant)

        for p in self.room.remote_participants.values():
            for pub in p.track_publications.values():
                if pub.track is not None:
                    offer(pub.track, pub, p)

        try:
            track, publication, participant = await asyncio.wait_for(got, timeout=self.remaining())
        except asyncio.TimeoutError:
            raise PeerError("no remote audio track subscribed within %.1fs" % self.args.seconds) from None
        subscribed_at = time.monotonic()

        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        skip = int(0.5 * SAMPLE_RATE)
        max_frames = self.args.frames
        samples = array.array("h")
        frames = 0
        seen = 0
        sample_rate = SAMPLE_RATE
        first_audio_ms = None
        first_nonsilent_ms = None
        it = stream.__aiter__()
        try:
            while max_frames is None or frames < max_frames:
                rem = self.remaining()
                if rem <= 0:
                    break
                try:
                    ev = await asyncio.wait_for(it.__anext__(), timeout=rem)
                except (asyncio.TimeoutError, StopAsyncIteration):
                    break
                fr = ev.frame
                now = time.monotonic()
                if first_audio_ms is None:
                    first_audio_ms = round((now - self.connected_at) * 1000.0, 1)
                    emit("first_audio", participant=participant.identity, track_sid=track.sid,
                         first_audio_ms=first_audio_ms,
                         after_subscribe_ms=round((now - subscribed_at) * 1000.0, 1))
                sample_rate = fr.sample_rate
                data = fr.data
                if fr.num_channels > 1:
                    data = data[:: fr.num_channels]
                if first_nonsilent_ms is None and any(abs(x) > 300 for x in data):
                    first_nonsilent_ms = round((now - self.connected_at) * 1000.0, 1)
                frames += 1
                n = len(data)
                if seen + n > skip:
                    start = max(0, skip - seen)
                    samples.extend(data[start:])
                seen += n
        finally:
            try:
                await asyncio.wait_for(stream.aclose(), timeout=2.0)
            except Exception:
                pass

        if frames == 0:
            raise PeerError("audio track subscribed but no frames received")
        if len(samples) < sample_rate // 10:
            raise PeerError("only %d frames received; not enough audio after skipping 0.5 s" % frames)
        fs = [x / 32768.0 for x in samples]
        rms = math.sqrt(sum(x * x for x in fs) / len(fs))
        freq, tone_amp, zcr = estimate_frequency(fs, sample_rate)
        emit(
            "audio",
            participant=participant.identity,
            track_sid=track.sid,
            track_name=publication.name,
            sample_rate=sample_rate,
            frames=frames,
            analyzed_samples=len(fs),
            frequency_hz=round(freq, 1),
            zcr_frequency_hz=round(zcr, 1) if zcr else None,
            tone_amplitude=round(tone_amp, 4),
            rms=round(rms, 4),
            first_audio_ms=first_audio_ms,
            first_nonsilent_ms=first_nonsilent_ms,
        )
        return 0

    # ---------------------------------------------------------------- data modes

    def install_data_handler(self, echo: bool, match_reliability: bool, counters: dict):
        from livekit import rtc

        @self.room.on("data_received")
        def _on_data(packet):
            sender, text, reliable = packet_info(packet)
            counters["received"] += 1
            if packet.topic == ECHO_TOPIC:
                counters["echo_replies"] += 1
            if not self.args.quiet:
                emit("data", **{"from": sender}, topic=packet.topic, payload=text, reliable=reliable)
            if not echo:
                return
            if packet.topic == ECHO_TOPIC:
                # Never echo an echo: two echo peers would ping-pong forever.
                return
            rel = reliable if match_reliability else True
            if sender is None:
                # Sender not yet announced to us (or a server SDK): the SDK has
                # no identity to target, so echo to the whole room instead.
                counters["echo_broadcast"] += 1
                log.info("data from unknown sender; echoing to everyone")
            self.spawn(self._echo(packet.data, sender, rel, counters))

    async def _echo(self, payload: bytes, dest, reliable: bool, counters: dict):
        try:
            await self.room.local_participant.publish_data(
                payload, reliable=reliable, destination_identities=[dest] if dest else [],
                topic=ECHO_TOPIC,
            )
            counters["echoed"] += 1
        except Exception as e:  # noqa: BLE001
            counters["echo_errors"] += 1
            log.warning("echo to %s failed: %s", dest or "<room>", e)

    async def echo_data(self, match_reliability: bool) -> int:
        counters = {"received": 0, "echoed": 0, "echo_errors": 0, "echo_replies": 0, "echo_broadcast": 0}
        self.install_data_handler(echo=True, match_reliability=match_reliability, counters=counters)
        await asyncio.sleep(self.remaining())
        emit("done", received=counters["received"], echoed=counters["echoed"],
             echo_errors=counters["echo_errors"], echo_broadcast=counters["echo_broadcast"])
        return 0

    async def send_data(self) -> int:
        counters = {"received": 0, "echoed": 0, "echo_errors": 0, "echo_replies": 0, "echo_broadcast": 0}
        self.install_data_handler(echo=False, match_reliability=False, counters=counters)
        room = self.room

        def ready() -> bool:
            if self.args.to:
                return self.args.to in room.remote_participants
            return len(room.remote_participants) > 0

        while not ready():
            if self.remaining() <= 0:
                raise PeerError("no other participant joined within %.1fs" % self.args.seconds)
            await asyncio.sleep(0.05)
        # Give the server a moment to finish the newcomer's data-channel setup.
        await asyncio.sleep(min(self.args.settle_ms / 1000.0, self.remaining()))

        dest = [self.args.to] if self.args.to else []
        count = self.args.count
        for i in range(count):
            await room.local_participant.publish_data(
                f"{self.args.payload}#{i}", reliable=True, destination_identities=dest, topic=DATA_TOPIC
            )
            if i + 1 < count:
                await asyncio.sleep(0.1)
        emit("sent", count=count, topic=DATA_TOPIC, to=dest)

        # Keep listening (for echoes) until all arrived or --seconds is over.
        while self.remaining() > 0 and counters["echo_replies"] < count:
            await asyncio.sleep(0.05)
        await asyncio.sleep(min(0.2, self.remaining()))
        emit("done", sent=count, received=counters["received"], echo_replies=counters["echo_replies"])
        return 0


# --------------------------------------------------------------------------- main


async def join_times(args) -> int:
    """Times `Room.connect()` --count times, each with a fresh Room and a token minted for
    `<identity>-<i>` before the clock starts, then disconnects. One untimed warm-up join
    comes first (the SDK's native side starts on the first one). Prints one `join` line per
    timed join (`connect_ms`), then `done`."""
    from livekit import rtc

    for i in range(-1, args.count):
        suffix = "warmup" if i < 0 else str(i)
        token = mint_token(argparse.Namespace(**{**vars(args), "identity": f"{args.identity}-{suffix}"}))
        room = rtc.Room()
        started = time.monotonic()
        await asyncio.wait_for(room.connect(args.url, token, rtc.RoomOptions(auto_subscribe=True)),
                               timeout=max(1.0, args.seconds))
        ms = (time.monotonic() - started) * 1000.0
        if i >= 0:
            emit("join", index=i, connect_ms=round(ms, 2))
        await asyncio.wait_for(room.disconnect(), timeout=5.0)
    emit("done", count=args.count)
    return 0


async def run(args) -> int:
    if args.mode == "join-times":
        return await join_times(args)
    peer = Peer(args)
    try:
        await peer.connect()
        mode = args.mode
        if mode == "publish-tone":
            return await peer.publish_tone()
        if mode == "receive-audio":
            return await peer.receive_audio()
        if mode == "echo-data":
            return await peer.echo_data(match_reliability=False)
        if mode == "latency-echo":
            return await peer.echo_data(match_reliability=True)
        if mode == "send-data":
            return await peer.send_data()
        raise PeerError("unknown mode %r" % mode)
    finally:
        await peer.disconnect()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT")
    p.add_argument("--token", help="JWT; if absent, minted from --api-key/--api-secret/--room/--identity")
    p.add_argument("--api-key")
    p.add_argument("--api-secret")
    p.add_argument("--room")
    p.add_argument("--identity")
    p.add_argument("--mode", required=True,
                   choices=["publish-tone", "receive-audio", "echo-data", "send-data", "latency-echo",
                            "join-times"])
    p.add_argument("--seconds", type=float, default=10.0,
                   help="run time (publish/echo modes) or overall timeout (receive/send modes)")
    p.add_argument("--frequency", type=float, default=440.0, help="publish-tone: sine frequency in Hz")
    p.add_argument("--amplitude", type=float, default=0.3, help="publish-tone: sine amplitude (0..1)")
    p.add_argument("--no-red", action="store_true",
                   help="publish-tone: disable RED so the track is plain audio/opus")
    p.add_argument("--frames", type=int, default=None, help="receive-audio: stop after N frames")
    p.add_argument("--from-identity", default=None, help="receive-audio: only take audio from this identity")
    p.add_argument("--payload", default="hello", help="send-data: payload text (\"#i\" appended)")
    p.add_argument("--count", type=int, default=1, help="send-data: number of packets; join-times: joins")
    p.add_argument("--to", default=None, help="send-data: wait for and send only to this identity")
    p.add_argument("--settle-ms", type=float, default=500.0,
                   help="send-data: delay after the other participant appears before sending")
    p.add_argument("--quiet", action="store_true", help="data modes: do not print per-packet data lines")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Hard watchdog: whatever happens in the SDK, never outlive --seconds by much.
    def _watchdog():
        emit("error", message="watchdog: process exceeded --seconds + %.0fs, forcing exit" % WATCHDOG_GRACE_S)
        os._exit(3)

    wd = threading.Timer(args.seconds + WATCHDOG_GRACE_S, _watchdog)
    wd.daemon = True
    wd.start()

    code = 1
    try:
        code = asyncio.run(asyncio.wait_for(run(args), timeout=args.seconds + WATCHDOG_GRACE_S - 3.0))
    except PeerError as e:
        emit("error", message=str(e))
        code = 2
    except asyncio.TimeoutError:
        emit("error", message="overall timeout")
        code = 2
    except KeyboardInterrupt:
        emit("error", message="interrupted")
        code = 130
    except Exception as e:  # noqa: BLE001
        log.exception("unhandled error")
        emit("error", message="%s: %s" % (type(e).__name__, e))
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's native FFI threads can delay a normal exit.
    os._exit(code)


if __name__ == "__main__":
    main()
