"""Marie, the sandbox's reference LiveKit agent, on the official framework (livekit-agents 1.8.9).

Run it as a worker: ``python -u marie.py start``. It registers with the LiveKit server and
the framework logs ``registered worker`` (a JSON line on stdout) once it has; every job then
runs an STT -> LLM -> TTS voice session with Silero VAD, the framework's turn-taking and
interruptions, transcripts on ``lk.transcription`` and the ``lk.agent.state`` attribute.

Environment [defaults]:
  LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET  the server to register with (required)
  GREENROOM_AGENT_NAME   set: explicit dispatch only, under that name; unset or empty:
                         automatic dispatch to every new room
  GREENROOM_STT_URL      [http://127.0.0.1:8002/v1]  OpenAI-style bases: the plugins POST to
  GREENROOM_LLM_URL      [http://127.0.0.1:8001/v1]  <base>/audio/transcriptions,
  GREENROOM_TTS_URL      [http://127.0.0.1:5002/v1]  <base>/chat/completions, <base>/audio/speech
  GREENROOM_STT_MODEL    [whisper-tiny.en] (the sandbox's STT ignores it)
  GREENROOM_LLM_MODEL    [greenroom-offline-coach]
  GREENROOM_LLM_API_KEY  [sandbox]
  ORT_DISABLE_TELEMETRY  [1] (see the imports)
The TTS is asked for response_format "pcm": raw s16le mono 24 kHz, what the plugin assumes.

Room metadata, a JSON object (every key optional, strings; missing or invalid -> default):
  exercise_type   e.g. "interview" (default "free_conversation")   } logged; the LLM learns
  character       e.g. "recruiter" (default "marie")               } the exercise and the
  character_name  e.g. "Claire" (default "Marie")                  } role from system_prompt
  voice           the TTS voice (default "marie")
  system_prompt   the LLM's instructions (default: a generic French coaching prompt)
  opening         the first line Marie says (default: DEFAULTS["opening"])
  language        the exercise's language, logged (default "fr"); the STT is asked for
                  English, all that the sandbox's speech-to-text understands
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings

# onnxruntime (Silero's) >= 1.29 sends Microsoft telemetry from Linux too: opt out before import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from livekit import agents  # noqa: E402
from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli  # noqa: E402
from livekit.plugins import openai, silero  # noqa: E402

logger = logging.getLogger("marie")

DEFAULTS = {
    "exercise_type": "free_conversation",
    "character": "marie",
    "character_name": "Marie",
    "voice": "marie",
    "system_prompt": (
        "Tu es Marie, une coach de communication bienveillante. Tu mènes une conversation "
        "libre en français avec l'apprenant : une question à la fois, des phrases courtes, "
        "et un encouragement concret quand il progresse."
    ),
    "opening": "Bonjour ! Je suis Marie, votre coach. De quoi voulez-vous parler aujourd'hui ?",
    "language": "fr",
}


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def read_metadata(raw: str | None) -> dict[str, str]:
    """The room's metadata over DEFAULTS; logs what it had to default, and why."""
    try:
        given = json.loads(raw) if raw else {}
    except json.JSONDecodeError as e:
        logger.warning("room metadata is not JSON (%s): using the defaults", e)
        given = {}
    if not isinstance(given, dict):
        logger.warning("room metadata is not a JSON object: using the defaults")
        given = {}
    settings, missing = {}, []
    for key, default in DEFAULTS.items():
        value = given.get(key)
        if isinstance(value, str) and value.strip():
            settings[key] = value.strip()
        else:
            settings[key] = default
            missing.append(key if value is None else f"{key} (not a non-empty string)")
    if missing:
        logger.info("room metadata: defaults for %s", ", ".join(missing))
    return settings


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    # Automatic dispatch sends the agent when the room is created, often before the learner
    # joins: wait for them, so that the opening line is heard, not said to an empty room.
    await ctx.wait_for_participant()
    settings = read_metadata(ctx.room.metadata)
    logger.info("room %s: %s", ctx.room.name, json.dumps(settings, ensure_ascii=False))
    session = AgentSession(
        stt=openai.STT(
            base_url=env("GREENROOM_STT_URL", "http://127.0.0.1:8002/v1"),
            api_key="sandbox",
            model=env("GREENROOM_STT_MODEL", "whisper-tiny.en"),
            language="en",
            use_realtime=False,  # plain POST /audio/transcriptions, one per VAD-cut utterance
        ),
        llm=openai.LLM(
            base_url=env("GREENROOM_LLM_URL", "http://127.0.0.1:8001/v1"),
            model=env("GREENROOM_LLM_MODEL", "greenroom-offline-coach"),
            api_key=env("GREENROOM_LLM_API_KEY", "sandbox"),
        ),
        tts=openai.TTS(
            base_url=env("GREENROOM_TTS_URL", "http://127.0.0.1:5002/v1"),
            api_key="sandbox",
            model="tts-1",  # asks for plain audio bytes, not OpenAI's SSE stream
            voice=settings["voice"],
            response_format="pcm",
        ),
        vad=silero.VAD.load(),
    )
    await session.start(room=ctx.room, agent=Agent(instructions=settings["system_prompt"]))
    session.say(settings["opening"])


def sandbox_load(server: agents.AgentServer) -> float:
    return min(len(server.active_jobs) / 10, 1.0)


def main() -> None:
    # run_app is the documented `python agent.py start` entry; 1.8.9 flags it as deprecated
    # in favour of the `lk` CLI, which the sandbox does not ship.
    warnings.filterwarnings("ignore", "the built-in Python CLI is deprecated")
    cli.run_app(
        WorkerOptions(
            entrypoint_fnc=entrypoint,
            agent_name=os.environ.get("GREENROOM_AGENT_NAME", ""),
            # The framework reports the machine's CPU use as the worker's load, and the server
            # stops dispatching to a worker above 0.7: on a laptop busy with a build, no room
            # would get Marie. Her load is her sessions instead, a tenth each (7 at most).
            load_fnc=sandbox_load,
            load_threshold=math.inf,
            num_idle_processes=1,
            host="127.0.0.1",  # the health endpoint, on a free port: nothing outside sees it
            port=0,
        )
    )


if __name__ == "__main__":
    main()
