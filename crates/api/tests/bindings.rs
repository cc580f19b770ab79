//! The TypeScript the UI compiles against is generated from the Rust types here.
//! This test fails when `ui/src/generated/api.ts` is out of date; regenerate it with
//! `UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings`.

use greenroom_api::*;
use ts_rs::TS;

fn generated() -> String {
    let cfg = ts_rs::Config::default();
    let decls = [
        serde_json::Value::decl(&cfg),
        AppInfo::decl(&cfg),
        ErrorCode::decl(&cfg),
        ApiError::decl(&cfg),
        SecretState::decl(&cfg),
        greenroom_api::file_access::FileAccess::decl(&cfg),
        SettingsView::decl(&cfg),
        RunningStackChoice::decl(&cfg),
        SettingsPatch::decl(&cfg),
        CheckStatus::decl(&cfg),
        InstallHint::decl(&cfg),
        CheckResult::decl(&cfg),
        DoctorSummary::decl(&cfg),
        DoctorReport::decl(&cfg),
        greenroom_stack::manifest::ServiceKind::decl(&cfg),
        greenroom_stack::manifest::Group::decl(&cfg),
        greenroom_stack::breaker::BreakerState::decl(&cfg),
        greenroom_stack::health::Architecture::decl(&cfg),
        greenroom_stack::probe::ProbeSample::decl(&cfg),
        ServiceState::decl(&cfg),
        greenroom_stack::docker::ContainerStatus::decl(&cfg),
        ServiceStatus::decl(&cfg),
        greenroom_stack::status::StackSummary::decl(&cfg),
        greenroom_stack::status::MachineMetrics::decl(&cfg),
        StackStatus::decl(&cfg),
        StackSourceView::decl(&cfg),
        OtherStackSupervision::decl(&cfg),
        OtherService::decl(&cfg),
        OtherStack::decl(&cfg),
        StackView::decl(&cfg),
        WorkspaceVerdict::decl(&cfg),
        WorkspacePartKind::decl(&cfg),
        WorkspacePart::decl(&cfg),
        WorkspaceCheck::decl(&cfg),
        FolderEntry::decl(&cfg),
        FolderListing::decl(&cfg),
        LogLevel::decl(&cfg),
        LogLine::decl(&cfg),
        UpResult::decl(&cfg),
        UpReport::decl(&cfg),
        greenroom_stack::preflight::Severity::decl(&cfg),
        greenroom_stack::preflight::TokenRef::decl(&cfg),
        greenroom_stack::preflight::Finding::decl(&cfg),
        greenroom_stack::preflight::VariableCheck::decl(&cfg),
        greenroom_stack::preflight::Preflight::decl(&cfg),
        greenroom_stack::repair::RepairKind::decl(&cfg),
        greenroom_stack::repair::RepairAction::decl(&cfg),
        greenroom_stack::repair::Diagnosis::decl(&cfg),
        greenroom_stack::repair::RepairOutcome::decl(&cfg),
        greenroom_exercises::project::Skipped::decl(&cfg),
        greenroom_exercises::analysis::Evidence::decl(&cfg),
        greenroom_exercises::analysis::CriterionId::decl(&cfg),
        greenroom_exercises::analysis::Criterion::decl(&cfg),
        greenroom_exercises::analysis::Exercise::decl(&cfg),
        greenroom_exercises::analysis::Orphan::decl(&cfg),
        greenroom_exercises::analysis::ScreenVerdict::decl(&cfg),
        greenroom_exercises::analysis::FlowScreen::decl(&cfg),
        greenroom_exercises::analysis::Drift::decl(&cfg),
        greenroom_exercises::analysis::Analysis::decl(&cfg),
        greenroom_exercises::history::HistoryPoint::decl(&cfg),
        ExercisesWatch::decl(&cfg),
        LiveKitInfo::decl(&cfg),
        greenroom_livekit::room_service::RoomInfo::decl(&cfg),
        greenroom_livekit::room_service::TrackSummary::decl(&cfg),
        greenroom_livekit::room_service::ParticipantSummary::decl(&cfg),
        ExercisesUpdate::decl(&cfg),
        greenroom_engine::stream_test::Suite::decl(&cfg),
        greenroom_engine::stream_test::Category::decl(&cfg),
        greenroom_engine::metrics::Rating::decl(&cfg),
        greenroom_engine::metrics::MetricId::decl(&cfg),
        greenroom_engine::metrics::Unit::decl(&cfg),
        greenroom_engine::metrics::Direction::decl(&cfg),
        greenroom_engine::metrics::Band::decl(&cfg),
        greenroom_engine::metrics::Metric::decl(&cfg),
        greenroom_engine::stream_test::LatencyPath::decl(&cfg),
        greenroom_engine::stream_test::StreamEvent::decl(&cfg),
        greenroom_engine::stream_test::LatencyStats::decl(&cfg),
        greenroom_engine::stream_test::AudioReport::decl(&cfg),
        greenroom_engine::stream_test::LatencySample::decl(&cfg),
        greenroom_engine::stream_test::NetworkReport::decl(&cfg),
        IceTransport::decl(&cfg),
        greenroom_engine::stream_test::StreamReport::decl(&cfg),
        StreamTestRequest::decl(&cfg),
        StreamTestStarted::decl(&cfg),
        StreamLogLine::decl(&cfg),
        StreamTestOutcome::decl(&cfg),
        LiveFigures::decl(&cfg),
        StreamTestSnapshot::decl(&cfg),
        StreamReportEntry::decl(&cfg),
        TokenRequest::decl(&cfg),
        RoomVisitEvent::decl(&cfg),
        RoomVisit::decl(&cfg),
        greenroom_voice::device::DeviceInfo::decl(&cfg),
        greenroom_voice::device::DeviceList::decl(&cfg),
        greenroom_talk::catalog::Character::decl(&cfg),
        greenroom_talk::catalog::Exercise::decl(&cfg),
        greenroom_talk::catalog::Catalog::decl(&cfg),
        greenroom_talk::services::Service::decl(&cfg),
        greenroom_talk::services::SttShape::decl(&cfg),
        greenroom_talk::services::EndpointView::decl(&cfg),
        greenroom_talk::services::EndpointsView::decl(&cfg),
        greenroom_talk::segments::SegmentKind::decl(&cfg),
        greenroom_talk::segments::Segment::decl(&cfg),
        greenroom_talk::segments::MarkAt::decl(&cfg),
        greenroom_talk::segments::TurnFigures::decl(&cfg),
        greenroom_talk::events::TalkState::decl(&cfg),
        greenroom_talk::events::Side::decl(&cfg),
        greenroom_talk::events::NoticeLevel::decl(&cfg),
        greenroom_talk::events::TurnError::decl(&cfg),
        greenroom_talk::events::TurnReport::decl(&cfg),
        greenroom_talk::events::TalkSummary::decl(&cfg),
        greenroom_talk::events::AgentPresence::decl(&cfg),
        greenroom_talk::events::AgentStateAt::decl(&cfg),
        greenroom_talk::events::LivekitReport::decl(&cfg),
        greenroom_talk::events::TalkReport::decl(&cfg),
        greenroom_talk::events::TalkEvent::decl(&cfg),
        TalkMode::decl(&cfg),
        TalkInput::decl(&cfg),
        TalkOutput::decl(&cfg),
        TalkServiceOverrides::decl(&cfg),
        TalkRequest::decl(&cfg),
        TalkStarted::decl(&cfg),
        TalkAction::decl(&cfg),
        TalkCatalogView::decl(&cfg),
        TalkSnapshot::decl(&cfg),
        TalkSessionEntry::decl(&cfg),
        ApiEvent::decl(&cfg),
        EventEnvelope::decl(&cfg),
        Request::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types of crates/api and crates/doctor. Do not edit.\n// Regenerate: UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.push_str(&typescript_command_maps());
    out
}

#[test]
fn bindings_are_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/generated/api.ts");
    let want = generated();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/generated/api.ts is out of date with the Rust types; run: UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings"
    );
}
