// The app's config lives at the top of the repository, beside icons/ and ui/.
fn main() {
    // The app embeds the built UI: without it, say how to build it (Tauri's own message
    // only says that a path is missing).
    let index = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed={}", index.display());
    if !index.is_file() {
        panic!(
            "the UI is not built ({} is missing): build it first with `npm --prefix ui ci && npm --prefix ui run build` (scripts/run and scripts/test do it), then build the app again",
            index.display()
        );
    }
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
    {
        panic!("tauri build failed: {e:#}");
    }
}
