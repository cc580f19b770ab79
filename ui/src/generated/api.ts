// Generated from the Rust types of crates/api and crates/doctor. Do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

export type AppInfo = { version: string, 
/**
 * `linux`, `windows` or `macos`.
 */
platform: string, 
/**
 * Greenroom's home folder (settings, logs, history).
 */
home: string, };

export type ErrorCode = "invalid_input" | "not_found" | "unavailable" | "conflict" | "internal";

export type ApiError = { code: ErrorCode, message: string, };

export type SecretState = { is_set: boolean, };

export type FileAccess = { "kind": "owner_only" } | { "kind": "shared", detail: string, } | { "kind": "missing" } | { "kind": "unknown", detail: string, };

export type SettingsView = { 
/**
 * The Eloquence checkout Greenroom works on (its compose files, Flutter app, agent).
 */
workspace: string | null, 
/**
 * The LiveKit server's WebSocket URL (default `ws://127.0.0.1:7880`).
 */
livekit_url: string, livekit_api_key: SecretState, livekit_api_secret: SecretState, mistral_api_key: SecretState, 
/**
 * Talking to Marie: the speech-to-text URL (`…/transcribe`: the Vosk shape;
 * `…/v1/audio/transcriptions`: OpenAI's); `None`: the stack's, else 127.0.0.1:8002.
 */
talk_stt_url: string | null, 
/**
 * The conversation service's OpenAI-compatible base (`…/v1`); `None`: Mistral's API
 * when a Mistral key is set, else the stack's, else 127.0.0.1:8001.
 */
talk_llm_url: string | null, talk_llm_model: string | null, 
/**
 * The text-to-speech service's OpenAI-compatible base (`…/v1`); `None`: the stack's,
 * else 127.0.0.1:5002.
 */
talk_tts_url: string | null, 
/**
 * Eloquence's token service (`POST …/generate-token`), for LiveKit talks; `None`: the
 * stack's, else 127.0.0.1:8004.
 */
talk_token_url: string | null, 
/**
 * The settings file, for the person who wants to look at it.
 */
file: string, 
/**
 * Who may read that file (it holds secrets), as the OS says.
 */
file_access: FileAccess, 
/**
 * Why the file could not be read, when it could not (Greenroom then runs on defaults).
 */
load_error: string | null, };

export type RunningStackChoice = "stop" | "keep";

export type SettingsPatch = { workspace?: string, livekit_url?: string, livekit_api_key?: string, livekit_api_secret?: string, mistral_api_key?: string, talk_stt_url?: string, talk_llm_url?: string, talk_llm_model?: string, talk_tts_url?: string, talk_token_url?: string, 
/**
 * Not a setting: what to do with the stack that runs when `workspace` changes which
 * stack Greenroom runs. Without it such a change is refused (`conflict`) and nothing
 * is saved; see [`crate::stack::RunningStackChoice`].
 */
running_stack?: RunningStackChoice, };

export type CheckStatus = "ok" | "warn" | "fail";

export type InstallHint = { debian: string, windows: string, };

export type CheckResult = { 
/**
 * Stable identifier (`redis-server`, `docker`, `disk`…).
 */
id: string, 
/**
 * What a person calls it.
 */
name: string, 
/**
 * What Greenroom uses it for.
 */
purpose: string, status: CheckStatus, 
/**
 * What was found: a version, a path, an error.
 */
detail: string, 
/**
 * How to fix it; present only when the status is not `ok`.
 */
install: InstallHint | null, };

export type DoctorSummary = { ok: number, warn: number, fail: number, };

export type DoctorReport = { 
/**
 * `linux`, `windows` or `macos`.
 */
platform: string, 
/**
 * In the order of [`all_checks`], whatever order they finished in.
 */
checks: Array<CheckResult>, summary: DoctorSummary, };

export type ServiceKind = "process" | "compose" | "external" | "builtin";

export type Group = "principal" | "fallback";

export type BreakerState = "closed" | "open" | "half_open";

export type Architecture = "principal" | "hybrid" | "alternative" | "degraded";

export type ProbeSample = { ok: boolean, latency_ms: number, at_ms: number, detail: string, };

export type ServiceState = "stopped" | "starting" | "running" | "unhealthy" | "backing_off" | "stopping" | "completed" | "failed" | "disabled";

export type ContainerStatus = { 
/**
 * The short id (12 characters).
 */
id: string, 
/**
 * Its main process (inside Docker Desktop's virtual machine on Windows and macOS).
 */
pid: number | null, image: string, 
/**
 * Docker's word for it: `running`, `restarting`, `exited`…
 */
state: string, 
/**
 * Docker's healthcheck: `starting`, `healthy`, `unhealthy`; `None` without one.
 */
health: string | null, 
/**
 * The output of the last healthcheck, when it failed.
 */
health_output: string | null, 
/**
 * How many times docker restarted this container (its `restart:` policy).
 */
engine_restarts: number, };

export type ServiceStatus = { id: string, kind: ServiceKind, state: ServiceState, critical: boolean, group: Group, pid: number | null, ports: Array<string>, 
/**
 * Restarts since a person last started it.
 */
restarts: number, started_at_ms: number | null, 
/**
 * How long it took from spawn to ready, for the last start.
 */
ready_after_ms: number | null, last_exit_code: number | null, last_probe: ProbeSample | null, 
/**
 * Response times of the last probes (oldest first), for a sparkline.
 */
latencies_ms: Array<number>, breaker: BreakerState, 
/**
 * Why it is in this state, for people ("exited with code 3; restarting in 1.2 s").
 */
message: string, 
/**
 * Whether we hold the process, or re-attached to it after a Greenroom restart.
 */
attached: boolean, cpu_percent: number | null, memory_bytes: number | null, 
/**
 * A compose service's container, as docker last described it.
 */
container: ContainerStatus | null, };

export type StackSummary = { 
/**
 * 0–100, see [`crate::health`].
 */
score: number, architecture: Architecture, 
/**
 * Enabled services that are healthy, and enabled services.
 */
healthy: number, total: number, 
/**
 * Whether anything of the stack is under way: an enabled service that is not
 * `stopped` (running, starting, backing off, failed, completed…). A stack that was
 * never launched, or that was stopped whole, is *not started*: its score means
 * nothing then and the fronts show "not started" instead of "0 / 100 degraded".
 */
started: boolean, };

export type MachineMetrics = { 
/**
 * All cores together, 0–100.
 */
cpu_percent: number, memory_used_bytes: number, memory_total_bytes: number, };

export type StackStatus = { name: string, services: Array<ServiceStatus>, summary: StackSummary, 
/**
 * The whole machine, sampled every second while services run.
 */
machine: MachineMetrics | null, };

export type StackSourceView = { 
/**
 * `sandbox`, `manifest` or `compose`.
 */
kind: string, files: Array<string>, 
/**
 * One line for people: "the sandbox (no Eloquence workspace set)".
 */
description: string, };

export type OtherStackSupervision = "kept" | "another_process" | "nobody";

export type OtherService = { id: string, pid: number | null, };

export type OtherStack = { 
/**
 * Its state folder's name under `<home>/stacks` (what `other_stack_down` takes).
 */
key: string, name: string, supervision: OtherStackSupervision, 
/**
 * The PID of the Greenroom that supervises it (`kept`: this one).
 */
supervisor_pid: number | null, 
/**
 * One line for people: where it comes from and who looks after it.
 */
description: string, running: Array<OtherService>, };

export type StackView = { source: StackSourceView, status: StackStatus, 
/**
 * Things worth knowing about how it was loaded (re-attached services, import notes).
 */
notes: Array<string>, 
/**
 * Set when another Greenroom process supervises the stack and this one only relays
 * to it (it then sends no live events: refresh the view).
 */
attached_to: string | null, 
/**
 * Other stacks that still run processes Greenroom started (see [`others`]): kept
 * running when the workspace changed, supervised by another Greenroom, or left
 * without a supervisor.
 */
also_running: Array<OtherStack>, };

export type WorkspaceVerdict = "checkout" | "partial" | "not_a_checkout" | "missing";

export type WorkspacePartKind = "stack" | "flutter_app" | "agent";

export type WorkspacePart = { kind: WorkspacePartKind, 
/**
 * "compose file", "Flutter app", "agent".
 */
label: string, 
/**
 * Where it was found, relative to the workspace (`/`-separated); `None`: not found.
 */
found: string | null, 
/**
 * One line for people: what was found, or what is missing and what that means.
 */
detail: string, };

export type WorkspaceCheck = { 
/**
 * The folder, absolute.
 */
path: string, verdict: WorkspaceVerdict, parts: Array<WorkspacePart>, 
/**
 * One line for people: "An Eloquence checkout: docker-compose.yml, frontend/flutter_app, services/livekit-agent".
 */
summary: string, };

export type FolderEntry = { name: string, path: string, 
/**
 * It holds a compose file or a `greenroom.toml` (checked without searching deeper).
 */
has_stack: boolean, };

export type FolderListing = { path: string, 
/**
 * `None` at a root.
 */
parent: string | null, 
/**
 * Sorted by name, case-insensitively; hidden folders (`.name`) left out.
 */
folders: Array<FolderEntry>, 
/**
 * Whether the listing stopped at [`MAX_LISTED`] folders.
 */
truncated: boolean, };

export type LogLevel = "error" | "warn" | "info" | "debug";

export type LogLine = { service: string, at_ms: number, level: LogLevel, text: string, };

export type UpResult = { id: string, ok: boolean, ready_after_ms: number | null, pid: number | null, ports: Array<string>, 
/**
 * Why it did not come up.
 */
error: string | null, 
/**
 * Its last log lines, when it did not come up.
 */
log_tail: Array<string>, };

export type UpReport = { services: Array<UpResult>, total_ms: number, ok: boolean, };

export type Severity = "blocker" | "warning";

export type TokenRef = { file: string, line: number, variable: string, };

export type Finding = { severity: Severity, service: string | null, title: string, detail: string, next_step: string, 
/**
 * For a port held by another program: its PID (a repair may offer to stop it, after asking).
 */
holder_pid: number | null, 
/**
 * For an expired LiveKit token: where it is (a repair may regenerate it, after asking).
 */
token: TokenRef | null, };

export type VariableCheck = { name: string, services: Array<string>, set: boolean, secret: boolean, 
/**
 * The value for ordinary variables; `••••••••` for secrets that are set.
 */
shown: string, };

export type Preflight = { findings: Array<Finding>, variables: Array<VariableCheck>, 
/**
 * No blocker.
 */
ok: boolean, };

export type RepairKind = "restart" | "raise_timeout" | "recreate_compose" | "recreate_venv" | "free_port" | "regenerate_token";

export type RepairAction = { kind: RepairKind, title: string, 
/**
 * What exactly will happen, for the person who confirms.
 */
detail: string, 
/**
 * It may lose data or touch a process Greenroom did not start: ask first.
 */
needs_confirmation: boolean, 
/**
 * `free_port`: whose process.
 */
target_pid: number | null, 
/**
 * `raise_timeout`: the new timeout.
 */
new_timeout_ms: bigint | null, 
/**
 * What exactly the person is shown and approves: a digest of the service, the action,
 * its detail and its target (PID and that process's start time). A confirmed repair
 * carries it back; if the diagnosis changed in between (another program now holds
 * the port), the digest differs and the repair is refused with the new one.
 */
fingerprint: string, };

export type Diagnosis = { service: string, problem: string, evidence: Array<string>, 
/**
 * Services that depend on this one and suffer with it (cascade).
 */
affects: Array<string>, 
/**
 * Best first.
 */
actions: Array<RepairAction>, };

export type RepairOutcome = { service: string, kind: RepairKind, ok: boolean, message: string, };

export type Skipped = { file: string, reason: string, };

export type Evidence = { message: string, file: string, line: number, };

export type CriterionId = "registered" | "mixin_callbacks" | "audio_init" | "dispose" | "agent_routing" | "endpoint_drift" | "services_healthy" | "error_handling" | "template_changed";

export type Criterion = { 
/**
 * On the wire, the criterion's snake_case name (`"dispose"`).
 */
id: CriterionId, title: string, weight: number, 
/**
 * `None`: does not apply to this exercise (left out of the score).
 */
passed: boolean | null, blocking: boolean, findings: Array<Evidence>, };

export type Exercise = { 
/**
 * snake_case of the class name (`cosmic_voice_screen`).
 */
id: string, class_name: string, file: string, line: number, 
/**
 * The route path it is shown at first, or `registry:<id>` for an exercise-list entry.
 */
route: string, 
/**
 * Every route that shows it (a direct route and a dispatcher's id, say), `route` first.
 */
routes: Array<string>, 
/**
 * The screens of its flow (selection → session → results), its own excluded.
 */
flow: Array<FlowScreen>, exercise_type: string | null, required_services: Array<string>, score: number, valid: boolean, criteria: Array<Criterion>, recommendations: Array<string>, fix_minutes: number, 
/**
 * Content hash of the files it depends on (its import closure), for history.
 */
content_hash: string, 
/**
 * Files (absolute) whose change can change this exercise's score.
 */
depends_on: Array<string>, };

export type Orphan = { class_name: string, file: string, line: number, reason: string, };

export type ScreenVerdict = { class_name: string, 
/**
 * Its first route (empty for a shell).
 */
route: string, file: string, line: number, reason: string, };

export type FlowScreen = { class_name: string, file: string, line: number, };

export type Drift = { file: string, line: number, url: string, port: number, message: string, 
/**
 * The config entry holding the URL (`exercisesApiUrl`), when it is a named field:
 * only exercises whose code uses that name are affected.
 */
entry: string | null, };

export type Analysis = { project: string, packages: Array<string>, files_read: number, exercises: Array<Exercise>, 
/**
 * Registered screens that are not exercises, each with the reason.
 */
screens: Array<ScreenVerdict>, orphans: Array<Orphan>, drift: Array<Drift>, skipped: Array<Skipped>, 
/**
 * Exercise types the agent routes (empty when no agent source was found).
 */
agent_types: Array<string>, };

export type HistoryPoint = { at_ms: number, score: number, valid: boolean, content_hash: string, };

export type ExercisesWatch = { analysis: Analysis, watched_folders: number, };

export type LiveKitInfo = { url: string, api_key: string, 
/**
 * Where each value comes from: `url from settings, key from LIVEKIT_API_KEY, …`.
 */
origin: string, };

export type RoomInfo = { name: string, sid: string, num_participants: number, num_publishers: number, 
/**
 * The room's metadata (Eloquence puts the exercise type there).
 */
metadata: string, created_at_ms: number, };

export type TrackSummary = { sid: string, name: string, 
/**
 * `audio`, `video` or `data`.
 */
kind: string, muted: boolean, };

export type ParticipantSummary = { identity: string, name: string, sid: string, 
/**
 * `joining`, `joined`, `active` or `disconnected`.
 */
state: string, 
/**
 * `standard`, `agent`, `ingress`, `egress` or `sip`.
 */
kind: string, tracks: Array<TrackSummary>, 
/**
 * An agent's state (`lk.agent.state`: initializing, listening, thinking, speaking), when it says.
 */
agent_state: string | null, attributes: { [key in string]: string }, };

export type ExercisesUpdate = { changed: Array<string>, revalidated: Array<string>, elapsed_ms: number, analysis: Analysis, };

export type Suite = "basic" | "stress" | "latency" | "load";

export type Category = "CONNECTION" | "AUDIO" | "LATENCY" | "NETWORK";

export type Rating = "excellent" | "good" | "acceptable" | "problem";

export type MetricId = "latency" | "packet_loss" | "jitter" | "join_time" | "first_audio" | "throughput";

export type Unit = "milliseconds" | "share" | "per_second";

export type Direction = "lower_is_better" | "higher_is_better";

export type Band = { up_to: number, inclusive: boolean, rating: Rating, };

export type Metric = { id: MetricId, label: string, unit: Unit, direction: Direction, 
/**
 * Best first; empty: reported, never rated.
 */
bands: Array<Band>, };

export type LatencyPath = "data" | "audio";

export type StreamEvent = { "kind": "log", category: Category, rating: Rating | null, message: string, } | { "kind": "latency", path: LatencyPath, seq: number, at_ms: number, latency_ms: number, } | { "kind": "progress", done: number, total: number, };

export type LatencyStats = { min_ms: number, max_ms: number, avg_ms: number, count: number, p50_ms: number, p95_ms: number, p99_ms: number, 
/**
 * Mean absolute difference between consecutive latencies (packet delay variation).
 */
jitter_ms: number, };

export type AudioReport = { markers_sent: number, markers_heard: number, latency_stats: LatencyStats, frames_sent: number, frames_received: number, frames_concealed: number, 
/**
 * Interarrival jitter of the received audio (RFC 3550), worst receiver.
 */
ingress_jitter_ms: number, 
/**
 * From publishing to the first audio frame heard, per receiver (ms).
 */
first_audio_ms: Array<number>, };

export type LatencySample = { path: LatencyPath, at_ms: number, latency_ms: number, };

export type NetworkReport = { loss: number, latency_ms: number, jitter_ms: number, 
/**
 * UDP was blocked (a firewall), so ICE had to use TCP (absent means false).
 */
block_udp: boolean, dropped_by_conditions: number, };

export type IceTransport = "auto" | "udp" | "tcp";

export type StreamReport = { test_name: string, duration_seconds: number, packets_sent: number, packets_received: number, packet_loss_rate: number, latency_stats: LatencyStats, errors_count: number, throughput_pps: number, schema: string, suite: Suite, started_at_unix_ms: number, server: string, room: string, publishers: number, subscribers: number, network: NetworkReport, audio: AudioReport, 
/**
 * Token to ready (connected, data channels open), per participant (ms).
 */
join_ms: Array<number>, 
/**
 * The transport each participant's publisher connection settled on (`udp` or `tcp`),
 * in the order of `join_ms` (added in version 1 without a bump: absent means unknown).
 */
transports: Array<string>, errors: Array<string>, latency_rating: Rating, loss_rating: Rating, samples: Array<LatencySample>, 
/**
 * The run was stopped before its end; the figures cover what was sent (added in
 * version 1 without a bump: absent means false).
 */
stopped_early: boolean, 
/**
 * Each signalling loss that was resumed, any participant: loss → resumed (ms).
 */
reconnections_ms: Array<number>, };

export type StreamTestRequest = { suite: Suite | null, duration_seconds: number | null, packets: number | null, interval_ms: number | null, publishers: number | null, subscribers: number | null, 
/**
 * Share of our outgoing packets dropped, 0 ..= 1.
 */
loss: number | null, latency_ms: number | null, jitter_ms: number | null, 
/**
 * Drop all UDP both ways (a firewall), so the run goes over ICE-TCP.
 */
block_udp: boolean, 
/**
 * The ICE candidates offered; `auto` (UDP, falling back to TCP) when absent.
 */
transport: IceTransport | null, 
/**
 * The room; `LIVEKIT_ROOM`, then `greenroom-stream-test`, when absent.
 */
room: string | null, 
/**
 * A JSON config file in the team's format, applied under the values above (see
 * [`super::config`] for the precedence).
 */
config_file: string | null, };

export type StreamTestStarted = { run: number, suite: Suite, server: string, room: string, };

export type StreamLogLine = { at_ms: number, category: Category, rating: Rating | null, message: string, };

export type StreamTestOutcome = { run: number, report: StreamReport | null, 
/**
 * The report's file name in the reports folder (for [`StreamTestRuns::report`]).
 */
file: string | null, 
/**
 * Where the report was saved, in full.
 */
saved_to: string | null, error: string | null, };

export type LiveFigures = { data: LatencyStats, audio: LatencyStats, };

export type StreamTestSnapshot = { started: StreamTestStarted, running: boolean, done: number, total: number, logs: Array<StreamLogLine>, samples: Array<LatencySample>, 
/**
 * The figures so far, computed here (the fronts draw them, never recompute them).
 */
figures: LiveFigures, outcome: StreamTestOutcome | null, };

export type StreamReportEntry = { file: string, suite: Suite | null, started_at_unix_ms: number, p50_ms: number | null, p95_ms: number | null, packet_loss_rate: number | null, latency_rating: Rating | null, loss_rating: Rating | null, errors_count: number | null, stopped_early: boolean, 
/**
 * Set when the file cannot be read as a report (the rest is then empty).
 */
problem: string | null, };

export type TokenRequest = { room: string, identity: string, name: string | null, metadata: string | null, ttl_seconds: number, can_publish: boolean, can_subscribe: boolean, can_publish_data: boolean, room_admin: boolean, hidden: boolean, 
/**
 * Agents dispatched to the room when this participant's join creates it:
 * (agent name, dispatch metadata).
 */
agents: Array<[string, string]>, 
/**
 * The room's metadata if this participant's join creates it.
 */
room_metadata: string | null, };

export type RoomVisitEvent = { "kind": "joined", identity: string, sid: string, join_ms: number, server_version: string, 
/**
 * (identity, number of tracks) of those already there.
 */
already_there: Array<[string, number]>, } | { "kind": "agent_state", identity: string, state: string, } | { "kind": "participant", identity: string, here: boolean, } | { "kind": "metadata", metadata: string, } | { "kind": "reconnecting", reason: string, } | { "kind": "resumed", took_ms: number, attempts: number, } | { "kind": "left" };

export type RoomVisit = { room: string, identity: string, 
/**
 * The signalling round trip, when a ping was answered.
 */
rtt_ms: number | null, };

export type DeviceInfo = { 
/**
 * Stable `host:device` id, to store and give back in [`DeviceChoice::Id`].
 */
id: string, 
/**
 * The name the system shows.
 */
name: string, };

export type DeviceList = { 
/**
 * The sound system in use (`PulseAudio`, `ALSA`, `WASAPI`…); `None` when there is none.
 */
host: string | null, inputs: Array<DeviceInfo>, outputs: Array<DeviceInfo>, 
/**
 * The id of the default input, when it is one of `inputs`.
 */
default_input: string | null, 
/**
 * The id of the default output, when it is one of `outputs`.
 */
default_output: string | null, };

export type Character = { id: string, name: string, role: string, 
/**
 * The TTS voice (an OpenAI voice name; engines that lack it use their default).
 */
voice: string, system_prompt: string, };

export type TalkExercise = { id: string, title: string, 
/**
 * A [`Character::id`].
 */
character: string, description: string, 
/**
 * What the character says first.
 */
opening: string, 
/**
 * Added to the character's system prompt.
 */
instructions: string, duration_minutes: number, focus: Array<string>, };

export type Catalog = { characters: Array<Character>, exercises: Array<TalkExercise>, };

export type Service = "stt" | "llm" | "tts" | "agent";

export type SttShape = "vosk" | "open_ai";

export type EndpointView = { service: Service, url: string, model: string, key_set: boolean, 
/**
 * Where the address came from: `sandbox`, `stack`, `settings`, `command line`.
 */
origin: string, };

export type EndpointsView = { stt: EndpointView, 
/**
 * `vosk` or `open_ai`.
 */
stt_shape: SttShape, llm: EndpointView, tts: EndpointView, };

export type SegmentKind = "end_of_utterance" | "stt" | "llm_first_token" | "llm_first_sentence" | "tts_first_byte" | "tts_rest" | "playback_start" | "agent_end_of_turn" | "agent_reply" | "transport" | "unobserved" | "overhead";

export type Segment = { kind: SegmentKind, ms: number, };

export type MarkAt = { mark: string, at_ms: number, };

export type TurnFigures = { 
/**
 * One entry per kind that occurred, in chain order, overhead last (summed).
 */
segments: Array<Segment>, 
/**
 * End of the learner's speech → first audio; `None` when no audio was heard.
 */
time_to_first_audio_ms: number | null, 
/**
 * Conversation request → last token.
 */
llm_total_ms: number | null, 
/**
 * Greenroom's own share (the `overhead` segment), 0 when none (and through an agent,
 * where Greenroom's part is inside `transport` and `playback_start`).
 */
overhead_ms: number, 
/**
 * First audio → last audio (or the cut).
 */
playback_ms: number | null, };

export type TalkState = "idle" | "listening" | "learner_speaking" | "end_of_speech" | "transcribing" | "thinking" | "speaking" | "ended";

export type Side = "learner" | "marie";

export type NoticeLevel = "info" | "warning" | "error";

export type TurnError = { service: Service, url: string, 
/**
 * `down`, `timeout`, `http_500`, `bad_answer`.
 */
tag: string, message: string, };

export type TurnReport = { index: number, 
/**
 * When the learner started speaking.
 */
started_ms: number, learner_text: string, marie_text: string, 
/**
 * The learner's utterance, in ms of audio.
 */
utterance_ms: number, stt_confidence: number | null, 
/**
 * The learner spoke over Marie (or the coach pressed Interrupt) and she was stopped.
 */
interrupted: boolean, 
/**
 * Speech detected → playback stopped, for an interruption during playback.
 */
barge_in_stop_ms: number | null, error: TurnError | null, 
/**
 * Every instant the segments were cut at, for whoever wants to look closer.
 */
marks: Array<MarkAt>, 
/**
 * One entry per kind that occurred, in chain order, overhead last (summed).
 */
segments: Array<Segment>, 
/**
 * End of the learner's speech → first audio; `None` when no audio was heard.
 */
time_to_first_audio_ms: number | null, 
/**
 * Conversation request → last token.
 */
llm_total_ms: number | null, 
/**
 * Greenroom's own share (the `overhead` segment), 0 when none (and through an agent,
 * where Greenroom's part is inside `transport` and `playback_start`).
 */
overhead_ms: number, 
/**
 * First audio → last audio (or the cut).
 */
playback_ms: number | null, };

export type TalkSummary = { turns: number, 
/**
 * Turns whose reply was heard to its end.
 */
completed: number, interrupted: number, failed: number, time_to_first_audio_p50_ms: number | null, time_to_first_audio_p95_ms: number | null, overhead_p50_ms: number | null, overhead_max_ms: number | null, };

export type AgentPresence = "waiting" | "joined" | "left" | "missing";

export type AgentStateAt = { state: string, at_ms: number, };

export type LivekitReport = { url: string, room: string, 
/**
 * Our identity in the room.
 */
identity: string, 
/**
 * `token service` (as the Flutter app gets it) or `minted` (with the stack's keys), and why.
 */
token_source: string, 
/**
 * `automatic`, or `explicit: <agent name>`.
 */
dispatch: string, 
/**
 * Token → joined and ready (our participant's own figure).
 */
join_ms: number | null, 
/**
 * Session start → joined and the microphone track published.
 */
joined_at_ms: number | null, 
/**
 * Session start → the agent was in the room.
 */
agent_joined_at_ms: number | null, agent_identity: string | null, 
/**
 * Session start → the first audible frame of Marie's opening line.
 */
opening_first_audio_at_ms: number | null, 
/**
 * Every state the agent published, in order.
 */
agent_states: Array<AgentStateAt>, };

export type TalkReport = { schema: string, 
/**
 * `direct` (this issue) or `livekit`.
 */
mode: string, exercise: string, character: string, endpoints: EndpointsView | null, started_unix_ms: number, duration_ms: number, 
/**
 * Marie's opening line, when she spoke first.
 */
opening: string | null, turns: Array<TurnReport>, summary: TalkSummary, 
/**
 * Where the recording is, when one was made.
 */
record_dir: string | null, 
/**
 * LiveKit mode: the room, the agent and their timings.
 */
livekit: LivekitReport | null, 
/**
 * Why it ended: `stopped`, `input ended`, `max turns`, or the failure.
 */
ended_because: string, };

export type TalkEvent = { "type": "state", state: TalkState, turn: number | null, at_ms: number, } | { "type": "level", side: Side, rms_dbfs: number, peak_dbfs: number, at_ms: number, } | { "type": "text", turn: number | null, side: Side, text: string, is_final: boolean, } | { "type": "turn", turn: TurnReport, } | { "type": "notice", level: NoticeLevel, message: string, service: Service | null, } | { "type": "room", url: string, room: string, identity: string, token_source: string, 
/**
 * `automatic`, or `explicit: <agent name>`.
 */
dispatch: string, join_ms: number, at_ms: number, } | { "type": "agent", presence: AgentPresence, identity: string | null, state: string | null, 
/**
 * Why it may be missing, what happened to it.
 */
detail: string | null, 
/**
 * While waiting (or after it left): how long it may take to come, in ms.
 */
timeout_ms: number | null, at_ms: number, } | { "type": "ended", because: string, summary: TalkSummary, };

export type TalkMode = "direct" | "livekit";

export type TalkInput = { "kind": "device", id: string | null, } | { "kind": "file", path: string, };

export type TalkOutput = { "kind": "device", id: string | null, } | { "kind": "silent" };

export type TalkServiceOverrides = { stt_url?: string, 
/**
 * `vosk` or `open_ai`; guessed from the URL when absent (`…/audio/transcriptions` is OpenAI).
 */
stt_shape?: SttShape, llm_url?: string, llm_model?: string, tts_url?: string, 
/**
 * LiveKit mode: Eloquence's token service (`…` before `/generate-token`).
 */
token_url?: string, };

export type TalkRequest = { 
/**
 * An exercise id of the catalogue (`None`: Conversation libre).
 */
exercise: string | null, input: TalkInput, output: TalkOutput, push_to_talk: boolean, 
/**
 * 200 ..= 2,000 ms (default 800).
 */
end_of_speech_ms: number | null, 
/**
 * Keep the session in `<home>/talk/<session>/`.
 */
record: boolean, 
/**
 * Record there instead (a new or empty folder).
 */
record_dir: string | null, 
/**
 * Marie says the exercise's opening line first (default: yes).
 */
speak_opening: boolean | null, 
/**
 * Speak the reply once it is whole, not sentence by sentence (a benchmark baseline).
 */
wait_for_whole_reply: boolean, seed: number | null, max_turns: number | null, services: TalkServiceOverrides, 
/**
 * Direct (the default) or through LiveKit.
 */
mode?: TalkMode, 
/**
 * LiveKit mode: the room to join (`None`: a new one).
 */
room?: string, 
/**
 * LiveKit mode: dispatch the agent of this name (explicit dispatch); `None`: automatic.
 */
agent?: string, 
/**
 * LiveKit mode: how long the agent may take to join, in ms (default 10,000).
 */
agent_timeout_ms?: number, };

export type TalkStarted = { session: string, exercise: TalkExercise, character: Character, endpoints: EndpointsView, record_dir: string | null, mode: TalkMode, 
/**
 * LiveKit mode: the room joined.
 */
room: string | null, };

export type TalkAction = { "action": "push_to_talk", enabled: boolean, } | { "action": "key", held: boolean, } | { "action": "end_of_speech", ms: number, } | { "action": "interrupt" } | { "action": "stop" };

export type TalkCatalogView = { catalog: Catalog, 
/**
 * The file in use; `None` for the built-in catalogue.
 */
file: string | null, 
/**
 * The file the team edits (it may not exist yet).
 */
editable_file: string, 
/**
 * Why the file was not used (`file:line: …`), when it was not.
 */
problem: string | null, 
/**
 * Said where a coach picks the local speech-to-text.
 */
local_stt_note: string, };

export type TalkSnapshot = { session: string, running: boolean, state: TalkState, exercise: string, 
/**
 * The turns so far (a screen that opens mid-talk shows them).
 */
turns: Array<TurnReport>, report: TalkReport | null, mode: TalkMode, 
/**
 * LiveKit mode: the `room` and `agent` events so far, in order (a screen that opens
 * mid-talk replays them).
 */
link_events: Array<TalkEvent>, };

export type TalkSessionEntry = { session: string, dir: string, exercise: string, started_unix_ms: number, turns: number, time_to_first_audio_p50_ms: number | null, };

export type ApiEvent = { "kind": "settings_changed", settings: SettingsView, } | { "kind": "doctor_check", check: CheckResult, done: number, total: number, } | { "kind": "doctor_finished", summary: DoctorSummary, } | { "kind": "stack_service", status: ServiceStatus, } | { "kind": "stack_log", line: LogLine, } | { "kind": "stack_summary", summary: StackSummary, } | { "kind": "exercises_updated", update: ExercisesUpdate, } | { "kind": "stream_test", run: number, event: StreamEvent, figures: LiveFigures | null, } | { "kind": "stream_test_finished", outcome: StreamTestOutcome, } | { "kind": "room_visit", room: string, event: RoomVisitEvent, } | { "kind": "talk", session: string, event: TalkEvent, };

export type EventEnvelope = { topic: string, seq: number, at_ms: number, event: ApiEvent, };

export type Request = { "command": "app_info", "args": Record<symbol, never> } | { "command": "get_settings", "args": Record<symbol, never> } | { "command": "update_settings", "args": { patch: SettingsPatch, } } | { "command": "run_doctor", "args": Record<symbol, never> } | { "command": "stack_status", "args": Record<symbol, never> } | { "command": "stack_preflight", "args": Record<symbol, never> } | { "command": "stack_up", "args": { only: Array<string>, } } | { "command": "exercises_scan", "args": { project: string | null, } } | { "command": "exercises_watch", "args": { project: string | null, } } | { "command": "exercises_history", "args": { project: string | null, id: string, limit: number, } } | { "command": "livekit_info", "args": Record<symbol, never> } | { "command": "rooms_list", "args": Record<symbol, never> } | { "command": "room_create", "args": { name: string, metadata: string, } } | { "command": "room_delete", "args": { name: string, } } | { "command": "room_participants", "args": { room: string, } } | { "command": "participant_remove", "args": { room: string, identity: string, } } | { "command": "stack_diagnose", "args": Record<symbol, never> } | { "command": "stack_repair", "args": { id: string, kind: RepairKind, confirmed: boolean, fingerprint: string | null, } } | { "command": "stack_report", "args": Record<symbol, never> } | { "command": "stack_down", "args": Record<symbol, never> } | { "command": "other_stack_down", "args": { key: string, } } | { "command": "check_workspace", "args": { path: string, } } | { "command": "list_folders", "args": { path: string | null, } } | { "command": "service_start", "args": { id: string, } } | { "command": "service_stop", "args": { id: string, } } | { "command": "service_restart", "args": { id: string, } } | { "command": "stack_logs", "args": { service: string | null, limit: number, } } | { "command": "stream_test_start", "args": { request: StreamTestRequest, } } | { "command": "stream_test_current", "args": Record<symbol, never> } | { "command": "stream_test_stop", "args": Record<symbol, never> } | { "command": "stream_test_reports", "args": { limit: number, } } | { "command": "stream_test_report", "args": { file: string, } } | { "command": "metric_catalogue", "args": Record<symbol, never> } | { "command": "token_mint", "args": { request: TokenRequest, } } | { "command": "room_metadata", "args": { room: string, metadata: string, } } | { "command": "talk_catalog", "args": Record<symbol, never> } | { "command": "talk_devices", "args": Record<symbol, never> } | { "command": "talk_endpoints", "args": Record<symbol, never> } | { "command": "talk_start", "args": { request: TalkRequest, } } | { "command": "talk_run", "args": { request: TalkRequest, } } | { "command": "talk_control", "args": { action: TalkAction, } } | { "command": "talk_current", "args": Record<symbol, never> } | { "command": "talk_sessions", "args": { limit: number, } } | { "command": "talk_export", "args": { session: string, destination: string, } };

export type CommandArgs = {
  app_info: {  };
  get_settings: {  };
  update_settings: { patch: SettingsPatch };
  run_doctor: {  };
  stack_status: {  };
  stack_preflight: {  };
  stack_up: { only: Array<string> };
  exercises_scan: { project: string | null };
  exercises_watch: { project: string | null };
  exercises_history: { project: string | null, id: string, limit: number };
  livekit_info: {  };
  rooms_list: {  };
  room_create: { name: string, metadata: string };
  room_delete: { name: string };
  room_participants: { room: string };
  participant_remove: { room: string, identity: string };
  stack_diagnose: {  };
  stack_repair: { id: string, kind: RepairKind, confirmed: boolean, fingerprint: string | null };
  stack_report: {  };
  stack_down: {  };
  other_stack_down: { key: string };
  check_workspace: { path: string };
  list_folders: { path: string | null };
  service_start: { id: string };
  service_stop: { id: string };
  service_restart: { id: string };
  stack_logs: { service: string | null, limit: number };
  stream_test_start: { request: StreamTestRequest };
  stream_test_current: {  };
  stream_test_stop: {  };
  stream_test_reports: { limit: number };
  stream_test_report: { file: string };
  metric_catalogue: {  };
  token_mint: { request: TokenRequest };
  room_metadata: { room: string, metadata: string };
  talk_catalog: {  };
  talk_devices: {  };
  talk_endpoints: {  };
  talk_start: { request: TalkRequest };
  talk_run: { request: TalkRequest };
  talk_control: { action: TalkAction };
  talk_current: {  };
  talk_sessions: { limit: number };
  talk_export: { session: string, destination: string };
};

export type CommandResults = {
  app_info: AppInfo;
  get_settings: SettingsView;
  update_settings: SettingsView;
  run_doctor: DoctorReport;
  stack_status: StackView;
  stack_preflight: Preflight;
  stack_up: UpReport;
  exercises_scan: Analysis;
  exercises_watch: ExercisesWatch;
  exercises_history: Array<HistoryPoint>;
  livekit_info: LiveKitInfo;
  rooms_list: Array<RoomInfo>;
  room_create: RoomInfo;
  room_delete: null;
  room_participants: Array<ParticipantSummary>;
  participant_remove: null;
  stack_diagnose: Array<Diagnosis>;
  stack_repair: RepairOutcome;
  stack_report: JsonValue;
  stack_down: Array<string>;
  other_stack_down: Array<string>;
  check_workspace: WorkspaceCheck;
  list_folders: FolderListing;
  service_start: UpResult;
  service_stop: null;
  service_restart: UpResult;
  stack_logs: Array<LogLine>;
  stream_test_start: StreamTestStarted;
  stream_test_current: StreamTestSnapshot | null;
  stream_test_stop: boolean;
  stream_test_reports: Array<StreamReportEntry>;
  stream_test_report: StreamReport;
  metric_catalogue: Array<Metric>;
  token_mint: string;
  room_metadata: null;
  talk_catalog: TalkCatalogView;
  talk_devices: DeviceList;
  talk_endpoints: EndpointsView;
  talk_start: TalkStarted;
  talk_run: TalkReport;
  talk_control: null;
  talk_current: TalkSnapshot | null;
  talk_sessions: Array<TalkSessionEntry>;
  talk_export: string;
};

export type CommandName = keyof CommandResults;
